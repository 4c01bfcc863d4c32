/**
 * The ABI call through WasmGuest (malloc, copy in, main, read the result,
 * free) on a warm instance of the echo Jobicolet, unmetered and metered
 * (fuel and a memory limit injected by meterFuel), next to the same call
 * done by hand on a raw instance.
 *
 * Run: deno bench --allow-read bench/wasm_guest_bench.ts
 */
import { meterFuel, WasmGuest } from "../goico/mod.ts";
import { compileWat } from "../tests/jobicolets/compile_wat.ts";

const bytes = await compileWat("echo");
const input = new TextEncoder().encode('{"n":1,"name":"Ada"}');
const plain = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
const metered = await WebAssembly.compile(
  meterFuel(bytes, {
    initialFuel: 1_000_000_000n,
    memoryLimitPages: 2048,
  }) as Uint8Array<ArrayBuffer>,
);
const g0 = await WasmGuest.create(plain);
const g1 = await WasmGuest.create(metered, {
  fuel: 1_000_000_000n,
  memoryLimitPages: 2048,
});
const raw = await WebAssembly.instantiate(plain, { env: { log: () => {} } });
type Fn = (...a: number[]) => number;
const ex = raw.exports as Record<string, unknown>;
(ex._start as Fn)();
(ex.init as Fn)();
const decoder = new TextDecoder();

Deno.bench(
  "raw instance, ABI call by hand",
  { group: "call", baseline: true },
  () => {
    const memory = ex.memory as WebAssembly.Memory;
    const malloc = ex.malloc as Fn;
    const inPtr = malloc(input.length);
    new Uint8Array(memory.buffer, inPtr, input.length).set(input);
    const res = malloc(16);
    (ex.event as Fn)(res, inPtr, input.length);
    const view = new DataView(memory.buffer, res, 16);
    const enc = view.getBigUint64(8, true);
    decoder.decode(
      new Uint8Array(
        memory.buffer,
        Number(enc >> 32n),
        Number(enc & 0xffffffffn),
      ),
    );
  },
);

Deno.bench("WasmGuest.call, unmetered", { group: "call" }, () => {
  g0.call(input);
});

Deno.bench("WasmGuest.call, metered", { group: "call" }, () => {
  g1.call(input);
});
