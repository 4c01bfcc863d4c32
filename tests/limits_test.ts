/**
 * Every limit holds end to end: a module that runs away, grows its memory
 * past its cap, recurses without bound or traps is stopped, recorded as
 * failed with the reason, retried with backoff, and finally routed to
 * result.error and its queue's dead letters, never to result.ok.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { type Harness, startHarness } from "./_harness.ts";
import type { Execution } from "../components/executions/execution.ts";

const PACKAGE = `
id: limits
tenant: lim
queues: [{id: work}, {id: results}]
jobs:
  - event: {id: spin, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: spin}
    result:
      ok: {id: spin-ok, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
      error: {id: spin-err, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
  - event: {id: bomb, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: bomb}
    result:
      ok: {id: bomb-ok, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
      error: {id: bomb-err, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
  - event: {id: recurse, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: recurse}
    result:
      ok: {id: recurse-ok, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
      error: {id: recurse-err, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
  - event: {id: trap, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: trap}
    result:
      error: {id: trap-err, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
runtimes:
  - {id: spin, moduleref: spin.wasm, retries: 0, limits: {fuel: 5000000, timeoutms: 10000}}
  - {id: bomb, moduleref: memory_bomb.wasm, retries: 0, limits: {memorymb: 16}}
  - {id: recurse, moduleref: recurse.wasm, retries: 0}
  - {id: trap, moduleref: trap.wasm, retries: 2}
  - {id: echo, moduleref: echo.wasm}
`;

async function deployLimits(h: Harness): Promise<void> {
  for (const name of ["spin", "memory_bomb", "recurse", "trap", "echo"]) {
    await h.upload("lim", `${name}.wasm`, await compileWat(name));
  }
  await h.upload("lim", "any.json", JSON.stringify({}));
  await h.deploy(PACKAGE);
}

const byEvent = (execs: Execution[], event: string) =>
  execs.filter((e) => e.event === event);

Deno.test("each limit stops its module with a reason, and the failure goes to result.error", async () => {
  const h = await startHarness({ retryBaseMs: 20 });
  try {
    await deployLimits(h);
    const [spinId] = await h.send("lim", "spin", [{}]);
    const [bombId] = await h.send("lim", "bomb", [{}]);
    const [recurseId] = await h.send("lim", "recurse", [{}]);
    const execs = await h.waitFor(
      "lim",
      (e) =>
        ["spin-err", "bomb-err", "recurse-err"].every((ev) =>
          byEvent(e, ev).length === 1
        ),
    );
    const reasons: Record<string, RegExp> = {
      [spinId]:
        /^fuel exhausted: the module ran more than 5000000 instructions$/,
      [bombId]:
        /^memory limit exceeded: the module tried to grow its memory or tables past 16 MiB$/,
      [recurseId]: /^stack overflow/,
    };
    for (const [id, reason] of Object.entries(reasons)) {
      const e = execs.find((x) => x.eventId === id)!;
      assert.equal(e.status, "failed", e.event);
      assert.equal(e.code, null);
      assert.match(e.error!, reason);
      // The failure's reason is the item its error event gets (echo returns it).
      const chained = execs.find((x) => x.event === `${e.event}-err`)!;
      assert.match(JSON.parse(chained.result!), reason);
      assert.match(chained.chainedFrom!.error!, reason);
    }
    assert.equal(execs.filter((e) => e.event.endsWith("-ok")).length, 0);
    // With retries: 0 each went straight to its queue's dead letters.
    const stats = await h.platform.queue.stats("lim/work");
    assert.equal(stats.dead, 3);
    assert.equal(stats.depth, 0);
    // The platform is still serving and executing.
    const res = await h.api("/healthz");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("a failed execution is retried with backoff, then dead-lettered and routed to result.error once", async () => {
  const h = await startHarness({ retryBaseMs: 40 });
  try {
    await deployLimits(h);
    const [id] = await h.send("lim", "trap", [{ n: 1 }]);
    const execs = await h.waitFor(
      "lim",
      (e) => byEvent(e, "trap-err").length === 1,
    );
    const attempts = execs.filter((e) => e.eventId === id).reverse();
    assert.deepEqual(attempts.map((e) => [e.status, e.attempt]), [
      ["failed", 1],
      ["failed", 2],
      ["failed", 3],
    ]);
    const host = (e: Execution) =>
      e.logs.filter((l) => l.source === "host").map((l) => l.message);
    assert.deepEqual(host(attempts[0]), ["Retrying in 40 ms (retry 1 of 2)"]);
    assert.deepEqual(host(attempts[1]), ["Retrying in 80 ms (retry 2 of 2)"]);
    assert.deepEqual(host(attempts[2]), [
      'Moved to the dead letters of queue "work" after 3 failed attempts',
    ]);
    // The backoff doubles: the third attempt started at least 40 + 80 ms after the first.
    const t = attempts.map((e) => Date.parse(e.startedAt));
    assert.ok(t[1] - t[0] >= 40 && t[2] - t[1] >= 80, JSON.stringify(t));
    const { letters } = await h.platform.queue.listDead("lim/work");
    assert.equal(letters.length, 1);
    assert.equal(letters[0].item.id, id);
    assert.equal(letters[0].ref, attempts[2].id);
    assert.match(letters[0].error, /^trap: /);
    // Only the last failure was chained.
    assert.equal(byEvent(execs, "trap-err").length, 1);
  } finally {
    await h.close();
  }
});
