/**
 * What the limits cost: executions per second of examples/greet/greet.wasm
 *
 *   1. in this isolate, unmetered (no limits at all: the baseline);
 *   2. in this isolate, metered (fuel and memory limit injected);
 *   3. in the sandbox pool (a permission-less Worker, metered, with a
 *      wall-clock timeout), one call at a time, as one queue's lane does;
 *   4. in the sandbox pool, two lanes at once (two queues).
 *
 * Run: deno run -A bench/limits_cost.ts [calls]
 * Prints one JSON line per case and the ratios to the baseline, all
 * measured in the same process one after the other.
 */
import { meterFuel, WasmGuest, WasmPool } from "../goico/mod.ts";

const calls = Number(Deno.args[0] ?? 20_000);
const bytes = await Deno.readFile(
  new URL("../examples/greet/greet.wasm", import.meta.url),
);
const input = new TextEncoder().encode('{"name":"Ada"}');
const fuel = 1_000_000_000n;
const memoryLimitPages = 128 * 16;

async function rate(name: string, run: () => Promise<void>): Promise<number> {
  await run(); // warm up (and let V8 optimize)
  const t0 = performance.now();
  await run();
  const perSecond = calls / ((performance.now() - t0) / 1000);
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
const lane = async (key: string, n: number) => {
  for (let i = 0; i < n; i++) await call(key);
};
const oneLane = await rate("sandbox pool, 1 lane", () => lane("a", calls));
const twoLanes = await rate(
  "sandbox pool, 2 lanes",
  async () => {
    await Promise.all([lane("a", calls / 2), lane("b", calls / 2)]);
  },
);
pool.close();
console.log(JSON.stringify({
  ratios: {
    metered: +(base / inMetered).toFixed(2),
    sandbox1: +(base / oneLane).toFixed(2),
    sandbox2: +(base / twoLanes).toFixed(2),
  },
}));
