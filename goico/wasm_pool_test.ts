import assert from "node:assert/strict";
import { compileWat } from "./_test_wat.ts";
import { meterFuel } from "./fuel_meter.ts";
import { WasmPool } from "./wasm_pool.ts";

const encoder = new TextEncoder();

async function metered(name: string, fuel = 10_000_000n) {
  const bytes = meterFuel(await compileWat(name), { initialFuel: fuel });
  return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

Deno.test("WasmPool: runs calls in sandbox workers and keeps guests warm", async () => {
  const pool = new WasmPool({ size: 2 });
  try {
    const module = await metered("echo");
    const calls = Array.from({ length: 20 }, (_, i) =>
      pool.run({
        key: "echo",
        module,
        guest: { fuel: 10_000_000n },
        input: encoder.encode(`item ${i}`),
        timeoutMs: 5_000,
      }));
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      assert.equal(r.timedOut, false);
      assert.ok(r.outcome.ok, r.outcome.ok ? "" : r.outcome.reason);
      if (r.outcome.ok) assert.equal(r.outcome.result, `item ${i}`);
      assert.ok(typeof r.fuelUsed === "bigint" && r.fuelUsed > 0n);
    });
    assert.equal(pool.busy, 0);
  } finally {
    pool.close();
  }
});

Deno.test("WasmPool: the sandbox workers have no Deno permissions", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    assert.deepEqual(await pool.probe(), {
      read: "denied",
      write: "denied",
      env: "denied",
      net: "denied",
      run: "denied",
      sys: "denied",
    });
  } finally {
    pool.close();
  }
});

Deno.test("WasmPool: a timeout answers at once and keeps the worker until the budget stops the guest", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    // Enough that the 50 ms timeout always comes first, even when V8 has
    // optimized the loop (300M instructions could end in under 50 ms).
    const fuel = 2_000_000_000n; // a few hundred ms of spinning
    const spin = await metered("spin", fuel);
    const t0 = performance.now();
    const r = await pool.run({
      key: "spin",
      module: spin,
      guest: { fuel },
      input: encoder.encode("x"),
      timeoutMs: 50,
    });
    const answeredMs = performance.now() - t0;
    assert.equal(r.timedOut, true);
    assert.equal(r.outcome.ok, false);
    if (!r.outcome.ok) {
      assert.match(r.outcome.reason, /^timeout: .* 50 ms$/);
    }
    assert.equal(pool.busy, 1, "the worker is still reserved");
    await r.settled;
    assert.equal(pool.busy, 0);
    // The worker serves the next call.
    const echo = await metered("echo");
    const next = await pool.run({
      key: "echo",
      module: echo,
      guest: { fuel: 10_000_000n },
      input: encoder.encode("after"),
      timeoutMs: 5_000,
    });
    assert.ok(next.outcome.ok);
    assert.ok(answeredMs < performance.now() - t0);
  } finally {
    pool.close();
  }
});

Deno.test("WasmPool: a worker that never returns is replaced after the grace period", async () => {
  const pool = new WasmPool({ size: 1, hangGraceMs: 100 });
  try {
    const fuel = 2_000_000_000n; // seconds of spinning
    const spin = await metered("spin", fuel);
    const r = await pool.run({
      key: "spin",
      module: spin,
      guest: { fuel },
      input: encoder.encode("x"),
      timeoutMs: 20,
    });
    assert.equal(r.timedOut, true);
    await r.settled;
    const echo = await metered("echo");
    const next = await pool.run({
      key: "echo",
      module: echo,
      guest: { fuel: 10_000_000n },
      input: encoder.encode("fresh"),
      timeoutMs: 5_000,
    });
    assert.ok(next.outcome.ok && next.outcome.result === "fresh");
  } finally {
    pool.close();
  }
});

Deno.test("WasmPool: close rejects callers waiting for a worker", async () => {
  const pool = new WasmPool({ size: 1 });
  const fuel = 200_000_000n;
  const spin = await metered("spin", fuel);
  const first = pool.run({
    key: "spin",
    module: spin,
    guest: { fuel },
    input: encoder.encode("x"),
    timeoutMs: 5_000,
  });
  const waiting = pool.run({
    key: "spin",
    module: spin,
    guest: { fuel },
    input: encoder.encode("y"),
    timeoutMs: 5_000,
  });
  await new Promise((r) => setTimeout(r, 20));
  pool.close();
  await assert.rejects(waiting, /closed/);
  const r = await first;
  assert.equal(r.outcome.ok, false);
});

Deno.test("WasmPool: a batch runs in order, reports each result, and stops after a timeout", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    const echo = await metered("echo");
    // Enough that the 50 ms timeout always comes first, even when V8 has
    // optimized the loop (300M instructions could end in under 50 ms).
    const fuel = 2_000_000_000n;
    const spin = await metered("spin", fuel);
    const call = (i: number, spins = false) => ({
      key: spins ? "spin" : "echo",
      module: spins ? spin : echo,
      guest: { fuel: spins ? fuel : 10_000_000n },
      input: encoder.encode(`item ${i}`),
      timeoutMs: spins ? 50 : 5_000,
    });
    const seen: [number, string][] = [];
    const all = await pool.runBatch(
      [0, 1, 2, 3].map((i) => call(i)),
      (i, r) => seen.push([i, r.outcome.ok ? r.outcome.result : "fail"]),
    );
    assert.equal(all.ran, 4);
    assert.deepEqual(seen, [[0, "item 0"], [1, "item 1"], [2, "item 2"], [
      3,
      "item 3",
    ]]);
    await all.settled;

    const results: [number, boolean][] = [];
    const cut = await pool.runBatch(
      [call(0), call(1, true), call(2), call(3)],
      (i, r) => results.push([i, r.timedOut]),
    );
    assert.equal(cut.ran, 2, "the calls after the timed-out one did not run");
    assert.deepEqual(results, [[0, false], [1, true]]);
    await cut.settled;
    assert.equal(pool.busy, 0);
    // The worker goes on serving; the skipped calls can run in a new batch.
    const rest: string[] = [];
    const again = await pool.runBatch(
      [call(2), call(3)],
      (_, r) => rest.push(r.outcome.ok ? r.outcome.result : "fail"),
    );
    assert.equal(again.ran, 2);
    assert.deepEqual(rest, ["item 2", "item 3"]);
  } finally {
    pool.close();
  }
});
