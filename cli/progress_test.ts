import assert from "node:assert/strict";
import type { TextWriter } from "./output.ts";
import { formatBytes, Progress } from "./progress.ts";

function writer(tty: boolean, columns = 80) {
  let text = "";
  const w: TextWriter = {
    write: (t) => void (text += t),
    isTerminal: () => tty,
    columns: () => columns,
  };
  return { w, text: () => text };
}

Deno.test("Progress draws nothing when the writer is not a terminal", () => {
  const { w, text } = writer(false);
  const bar = new Progress(w, {}, { label: "Uploading", total: 3 });
  assert.equal(bar.visible, false);
  bar.update(1, "a.wasm");
  bar.add(2);
  bar.done();
  assert.equal(text(), "");
});

Deno.test("Progress draws nothing on TERM=dumb", () => {
  const { w, text } = writer(true);
  const bar = new Progress(w, { TERM: "dumb" }, { label: "x", total: 1 });
  bar.update(1);
  assert.equal(text(), "");
});

Deno.test("Progress redraws one line in place on a terminal, and erases it when done", () => {
  const { w, text } = writer(true);
  let now = 0;
  const bar = new Progress(w, {}, {
    label: "Replaying",
    total: 4,
    now: () => now,
  });
  bar.update(1, "batch 1");
  assert.equal(
    text(),
    "\r\x1b[2KReplaying  [██████░░░░░░░░░░░░░░░░░░]  1/4  batch 1",
  );
  now += 10;
  bar.update(2); // within 50 ms of the last: not drawn
  assert.equal(text().split("\r").length, 2);
  bar.update(4); // the last one always is
  assert.ok(
    text().endsWith("Replaying  [████████████████████████]  4/4  batch 1"),
  );
  bar.done();
  assert.ok(text().endsWith("\r\x1b[2K"));
});

Deno.test("Progress fits the terminal width, formats units, spins without a total", () => {
  const bytes = new Progress(writer(true).w, {}, {
    label: "Uploading",
    total: 3 * 1024 * 1024,
    format: formatBytes,
  });
  bytes.update(1536 * 1024, "greet.wasm");
  assert.equal(
    bytes.line(200),
    "Uploading  [████████████░░░░░░░░░░░░]  1.5 MiB/3.0 MiB  greet.wasm",
  );
  assert.equal([...bytes.line(20)].length, 19);
  const { w, text } = writer(true);
  const spinner = new Progress(w, {}, { label: "Waiting", total: 0 });
  spinner.update(0, "http://127.0.0.1:8081");
  assert.match(text(), /Waiting {2}⠙ {2}http:\/\/127\.0\.0\.1:8081$/);
});

Deno.test("formatBytes picks a unit", () => {
  assert.equal(formatBytes(532), "532 B");
  assert.equal(formatBytes(12.5 * 1024), "12.5 KiB");
  assert.equal(formatBytes(3.25 * 1024 * 1024), "3.3 MiB");
});
