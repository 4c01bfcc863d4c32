/**
 * What the limits cost: executions per second of examples/greet/greet.wasm
 *
 *   1. in this isolate, unmetered (no limits at all: the baseline);
 *   2. in this isolate, metered (fuel and memory limit injected);
 *   3. in the sandbox pool (a permission-less Worker, metered, with a
 *      wall-clock timeout), one call per message;
 *   4. in the sandbox pool, batches of 64 calls per message, as one queue's
 *      lane sends its leased events;
 *   5. in the sandbox pool, batches of 64, two lanes at once (two queues).
 *
 * Run: deno run -A bench/limits_cost.ts [calls]
 * Prints one JSON line per case and the ratios to the baseline, all
 * measured in the same process one after the other.
 */
import { meterFuel, WasmGuest, WasmPool } from "@jobico/goico";

const calls = Number(Deno.args[0] ?? 20_000);
const bytes = await Deno.readFile(
  new URL("../examples/greet/greet.wasm", import.meta.url),
);
const input = new TextEncoder().encode('{"name":"Ada"}');
const fuel = 1_000_000_000n;
const memoryLimitPages = 128 * 16;

/** The best of three runs, after a warm-up run (V8 optimizes hot code). */
async function rate(name: string, run: () => Promise<void>): Promise<number> {
  await run();
  let perSecond = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await run();
    perSecond = Math.max(perSecond, calls / ((performance.now() - t0) / 1000));
  }
  console.log(
    JSON.stringify({ case: name, calls, perSecond: Math.round(perSecond) }),
  );
  return perSecond;
}

const plain = await WebAssembly.compile(bytes);
const metered = await WebAssembly.compile(
  meterFuel(bytes, { initialFuel: fuel, memoryLimitPages }) as Uint8Array<
    ArrayBuffer
  >,
);

const g0 = await WasmGuest.create(plain);
const base = await rate("in-process, no limits", () => {
  for (let i = 0; i < calls; i++) g0.call(input);
  return Promise.resolve();
});
const g1 = await WasmGuest.create(metered, { fuel, memoryLimitPages });
const inMetered = await rate("in-process, metered", () => {
  for (let i = 0; i < calls; i++) g1.call(input);
  return Promise.resolve();
});
const pool = new WasmPool({ size: 2 });
const call = (key: string) =>
  pool.run({
    key,
    module: metered,
    guest: { fuel, memoryLimitPages },
    input,
    timeoutMs: 5_000,
  });
const single = await rate("sandbox pool, 1 call per message", async () => {
  for (let i = 0; i < calls; i++) await call("a");
});
const batches = async (key: string, n: number) => {
  const batch = Array.from({ length: 64 }, () => ({
    key,
    module: metered,
    guest: { fuel, memoryLimitPages },
    input,
    timeoutMs: 5_000,
  }));
  for (let done = 0; done < n; done += 64) {
    await pool.runBatch(batch.slice(0, Math.min(64, n - done)), () => {});
  }
};
const oneLane = await rate(
  "sandbox pool, batches of 64, 1 lane",
  () => batches("a", calls),
);
const twoLanes = await rate(
  "sandbox pool, batches of 64, 2 lanes",
  async () => {
    await Promise.all([batches("a", calls / 2), batches("b", calls / 2)]);
  },
);
pool.close();
console.log(JSON.stringify({
  ratios: {
    metered: +(base / inMetered).toFixed(2),
    sandboxSingle: +(base / single).toFixed(2),
    sandboxBatch1: +(base / oneLane).toFixed(2),
    sandboxBatch2: +(base / twoLanes).toFixed(2),
  },
}));
