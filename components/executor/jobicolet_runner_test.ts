import assert from "node:assert/strict";
import { sha256Hex, WasmPool } from "@jobico/goico";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { JobicoletRunner, type RunLimits } from "./jobicolet_runner.ts";
import { DEFAULT_LIMITS } from "../model/runtime_limits.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function runnerFor(...modules: Uint8Array[]) {
  const bySha = new Map<string, Uint8Array>();
  const loads: string[] = [];
  for (const m of modules) bySha.set(await sha256Hex(m), m);
  const pool = new WasmPool({ size: 1 });
  const load = (sha: string) => {
    loads.push(sha);
    return Promise.resolve(bySha.get(sha)!);
  };
  const runner = new JobicoletRunner(load, { pool });
  return {
    runner,
    loads,
    shas: [...bySha.keys()],
    [Symbol.dispose]: () => pool.close(),
  };
}

/** Limits for tests: the platform defaults unless overridden. */
const limits = (over: Partial<RunLimits> = {}): RunLimits => ({
  ...DEFAULT_LIMITS,
  ...over,
});

Deno.test("a module is compiled once and its instance serves many events", async () => {
  const echo = await compileWat("echo");
  using t = await runnerFor(echo);
  const { runner, loads, shas } = t;
  for (let i = 0; i < 50; i++) {
    const out = await runner.run(
      "acme",
      shas[0],
      "event",
      enc(`{"i":${i}}`),
      limits(),
    );
    assert.equal(out.status, "ok");
    assert.equal(out.result, `{"i":${i}}`);
  }
  assert.equal(loads.length, 1);
  assert.equal(runner.modules.size, 1);
});

Deno.test("after a trap the next event gets a fresh instance", async () => {
  const trap = await compileWat("trap");
  using t = await runnerFor(trap);
  const { runner, loads, shas } = t;
  const a = await runner.run("acme", shas[0], "event", enc("{}"), limits());
  const b = await runner.run("acme", shas[0], "event", enc("{}"), limits());
  for (const out of [a, b]) {
    assert.equal(out.status, "failed");
    assert.match(out.error!, /^trap: /);
    assert.equal(out.code, null);
  }
  // Both traps ran in their own instance (the log before the trap appears each time), compiled once.
  assert.deepEqual(b.logs, [{
    level: "info",
    source: "module",
    message: "about to trap",
  }]);
  assert.equal(loads.length, 1);
});

Deno.test("a non-zero code is an error outcome with the code and the result", async () => {
  using t = await runnerFor(await compileWat("error"));
  const { runner, shas } = t;
  const out = await runner.run("acme", shas[0], "event", enc("{}"), limits());
  assert.deepEqual([out.status, out.code, out.result, out.error], [
    "error",
    7,
    "bad input",
    null,
  ]);
});

Deno.test("a trapping free is a host warning, not a failure", async () => {
  using t = await runnerFor(await compileWat("trapping_free"));
  const { runner, shas } = t;
  const out = await runner.run(
    "acme",
    shas[0],
    "event",
    enc('{"a":1}'),
    limits(),
  );
  assert.equal(out.status, "ok");
  assert.equal(out.result, '{"a":1}');
  assert.ok(
    out.logs.some((l) =>
      l.source === "host" && l.level === "warn" && /free/.test(l.message)
    ),
  );
});

Deno.test("a missing main function or a module that cannot link fails with the reason", async () => {
  using t = await runnerFor(await compileWat("echo"));
  const { runner, shas } = t;
  const out = await runner.run("acme", shas[0], "main", enc("{}"), limits());
  assert.equal(out.status, "failed");
  assert.match(out.error!, /"main"/);
  using bad = await runnerFor(
    new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]),
  );
  const empty = await bad.runner.run(
    "acme",
    bad.shas[0],
    "event",
    enc("{}"),
    limits(),
  );
  assert.equal(empty.status, "failed");
  assert.match(empty.error!, /memory|export/);
});
