/**
 * The ABI call through WasmGuest (malloc, copy in, main, read the result,
 * free) on a warm instance of the echo Jobicolet, unmetered, metered (fuel
 * and a memory limit injected by meterFuel) and metered as the executor
 * runs modules (with interrupts: a deadline and flags on each call), next to the same call done by hand on a raw instance. A
 * loop of 1e7 turns shows what refilling from the budget costs: the same
 * fuel spent in one budget or in slices of 1e6.
 *
 * Run: deno bench --allow-read bench/wasm_guest_bench.ts
 */
import { meterFuel, WasmGuest } from "@jobico/goico";
import { compileWat, compileWatText } from "../tests/jobicolets/compile_wat.ts";

const bytes = await compileWat("echo");
const input = new TextEncoder().encode('{"n":1,"name":"Ada"}');
const plain = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
const metered = await WebAssembly.compile(
  meterFuel(bytes, {
    initialFuel: 1_000_000_000n,
    memoryLimitPages: 2048,
  }) as Uint8Array<ArrayBuffer>,
);
const interrupted = await WebAssembly.compile(
  meterFuel(bytes, {
    memoryLimitPages: 2048,
    interrupt: true,
  }) as Uint8Array<ArrayBuffer>,
);
const g0 = await WasmGuest.create(plain);
const g2 = await WasmGuest.create(interrupted, {
  fuel: 1_000_000_000n,
  memoryLimitPages: 2048,
});
const flags = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
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

Deno.bench(
  "WasmGuest.call, metered with interrupt, a deadline and flags",
  { group: "call" },
  () => {
    g2.call(input, {
      deadline: performance.now() + 5_000,
      timeoutMs: 5_000,
      flags,
    });
  },
);

// Counts to 10 million and returns: about 5e7 units of fuel per call.
const count = await compileWatText(
  "count.wat",
  `(module
    (memory (export "memory") 1)
    (func (export "malloc") (param i32) (result i32) (i32.const 1024))
    (func (export "free") (param i32))
    (func (export "init"))
    (func (export "event") (param $ret i32) (param i32 i32)
      (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 10000000))))
      (i64.store (local.get $ret) (i64.const 0))
      (i64.store offset=8 (local.get $ret) (i64.const 0))))`,
);
const countPlain = await WasmGuest.create(
  await WebAssembly.compile(
    meterFuel(count, { memoryLimitPages: 16 }) as Uint8Array<ArrayBuffer>,
  ),
  { fuel: 1_000_000_000n },
);
const countSliced = await WasmGuest.create(
  await WebAssembly.compile(
    meterFuel(count, {
      memoryLimitPages: 16,
      interrupt: true,
    }) as Uint8Array<ArrayBuffer>,
  ),
  { fuel: 1_000_000_000n },
);

Deno.bench(
  "a loop of 1e7 turns, fuel in one budget",
  { group: "loop", baseline: true },
  () => {
    countPlain.call(input);
  },
);

Deno.bench("a loop of 1e7 turns, fuel in slices of 1e6 read by refill", {
  group: "loop",
}, () => {
  countSliced.call(input, {
    deadline: performance.now() + 60_000,
    flags,
  });
});
