import assert from "node:assert/strict";
import { jsonLogger } from "./logger.ts";

Deno.test("jsonLogger: one JSON object per line with time, level, msg and fields", () => {
  const lines: string[] = [];
  const log = jsonLogger({
    write: (l) => lines.push(l),
    fields: { component: "recorder" },
    now: () => Date.UTC(2024, 0, 2, 3, 4, 5, 6),
  });
  log.info("started", { port: 8080, msg_extra: "a\nb" });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("\n"));
  assert.deepEqual(JSON.parse(lines[0]), {
    time: "2024-01-02T03:04:05.006Z",
    level: "info",
    msg: "started",
    component: "recorder",
    port: 8080,
    msg_extra: "a\nb",
  });
});

Deno.test("jsonLogger: lines below the level are dropped", () => {
  const lines: string[] = [];
  const log = jsonLogger({ level: "warn", write: (l) => lines.push(l) });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.deepEqual(
    lines.map((l) => [JSON.parse(l).level, JSON.parse(l).msg]),
    [["warn", "w"], ["error", "e"]],
  );

  const all: string[] = [];
  const debug = jsonLogger({ level: "debug", write: (l) => all.push(l) });
  debug.debug("d");
  assert.equal(JSON.parse(all[0]).level, "debug");

  const byDefault: string[] = [];
  const info = jsonLogger({ write: (l) => byDefault.push(l) });
  info.debug("dropped");
  info.info("kept");
  assert.deepEqual(byDefault.map((l) => JSON.parse(l).msg), ["kept"]);
});
