/**
 * The fuel meter against modules that try to do a lot of work, or allocate
 * a lot, in few instructions: bulk memory and table instructions, tables
 * that count against the memory limit, and the interrupt hook that lets the
 * host stop a module at a deadline.
 */
import assert from "node:assert/strict";
import { compileWat, compileWatText } from "../tests/jobicolets/compile_wat.ts";
import {
  BYTES_PER_FUEL,
  FUEL_PER_TABLE_ELEMENT,
  hookModule,
  MAX_TABLES,
  MemoryLimitError,
  MeterError,
  meterFuel,
  TABLE_ELEMENT_BYTES,
} from "./fuel_meter.ts";

const PAGE = 65536;
const BIG = 10n ** 15n;

type Exports = Record<string, unknown>;
type Fn = (...args: number[]) => number;

/** An instance; imports not given are functions that return 0. */
function instantiate(bytes: Uint8Array, given: WebAssembly.Imports = {}) {
  const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const imports: WebAssembly.Imports = { ...given };
  for (const i of WebAssembly.Module.imports(module)) {
    if (given[i.module]) continue;
    imports[i.module] = { ...imports[i.module], [i.name]: () => 0 };
  }
  return new WebAssembly.Instance(module, imports).exports as Exports;
}

const fuelOf = (ex: Exports) => ex.__fuel as WebAssembly.Global;
const fn = (ex: Exports, name: string) => ex[name] as Fn;

function isTrap(err: unknown): boolean {
  return err instanceof WebAssembly.RuntimeError;
}

/** Fuel used by `call` with a large budget. */
function used(ex: Exports, call: () => unknown): bigint {
  fuelOf(ex).value = BIG;
  call();
  return BIG - (fuelOf(ex).value as bigint);
}

const BULK = `(module
  (memory (export "memory") 16)
  (table $t (export "t") 100000 funcref)
  (data $d "0123456789abcdef")
  (elem $e func $f $f $f $f)
  (func $f)
  (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 1) (local.get 0)))
  (func (export "copy") (param i32) (memory.copy (i32.const 0) (i32.const 4096) (local.get 0)))
  (func (export "init") (param i32) (memory.init $d (i32.const 0) (i32.const 0) (local.get 0)))
  (func (export "tfill") (param i32) (table.fill $t (i32.const 0) (ref.null func) (local.get 0)))
  (func (export "tcopy") (param i32) (table.copy $t $t (i32.const 0) (i32.const 10) (local.get 0)))
  (func (export "tinit") (param i32) (table.init $t $e (i32.const 0) (i32.const 0) (local.get 0)))
  (func (export "tgrow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0))))`;

Deno.test("meterFuel: bulk memory instructions cost one unit per BYTES_PER_FUEL bytes", async () => {
  const ex = instantiate(meterFuel(await compileWatText("bulk.wat", BULK)));
  for (const name of ["fill", "copy", "init"]) {
    const len = name === "init" ? 16 : 40_000;
    const none = used(ex, () => fn(ex, name)(0));
    const some = used(ex, () => fn(ex, name)(len));
    assert.equal(
      some - none,
      BigInt(Math.floor(len / BYTES_PER_FUEL)),
      `${name} of ${len} bytes`,
    );
  }
  // They still do their work.
  fuelOf(ex).value = BIG;
  const memory = ex.memory as WebAssembly.Memory;
  new Uint8Array(memory.buffer).fill(0);
  fn(ex, "fill")(8);
  assert.deepEqual([...new Uint8Array(memory.buffer, 0, 9)], [
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0,
  ]);
  fn(ex, "init")(4);
  assert.equal(
    new TextDecoder().decode(new Uint8Array(memory.buffer, 0, 4)),
    "0123",
  );
});

Deno.test("meterFuel: bulk table instructions and table.grow cost FUEL_PER_TABLE_ELEMENT per element", async () => {
  const ex = instantiate(meterFuel(await compileWatText("bulk.wat", BULK)));
  for (
    const [name, len] of [["tfill", 50_000], ["tcopy", 50_000], ["tinit", 4], [
      "tgrow",
      1000,
    ]] as const
  ) {
    const none = used(ex, () => fn(ex, name)(0));
    const some = used(ex, () => fn(ex, name)(len));
    assert.equal(
      some - none,
      BigInt(len * FUEL_PER_TABLE_ELEMENT),
      `${name} of ${len} elements`,
    );
  }
  assert.equal((ex.t as WebAssembly.Table).length, 101_000);
});

Deno.test("meterFuel: a bulk instruction is charged before it runs: too long a fill traps and writes nothing", async () => {
  const ex = instantiate(meterFuel(await compileWatText("bulk.wat", BULK)));
  fuelOf(ex).value = 100n; // a fill of 16 pages costs 131,072
  assert.throws(() => fn(ex, "fill")(16 * PAGE), isTrap);
  assert.ok((fuelOf(ex).value as bigint) < 0n);
  const memory = ex.memory as WebAssembly.Memory;
  assert.equal(new Uint8Array(memory.buffer).some((b) => b !== 0), false);
});

Deno.test("meterFuel: bulk_bomb.wat's loops of 100 MiB fills, 50 MiB copies and 200k-element table ops run out of the default budget", async () => {
  // Metered by instruction only, each loop would run ~5 instructions per
  // turn: 200 million turns, minutes of memset, for a budget of 1e9.
  const bytes = await compileWat("bulk_bomb");
  for (const name of ["fill", "copy", "table_fill", "table_copy"]) {
    const ex = instantiate(meterFuel(bytes, { memoryLimitPages: 2048 }));
    fuelOf(ex).value = 1_000_000_000n;
    assert.throws(() => fn(ex, name)(0, 0, 0), isTrap, name);
    assert.ok((fuelOf(ex).value as bigint) < 0n, `${name} ran out of fuel`);
  }
});

Deno.test("meterFuel memoryLimitPages: tables count against the limit at TABLE_ELEMENT_BYTES per element", async () => {
  const limit = 16; // 1 MiB: 16,384 elements
  const perLimit = limit * PAGE / TABLE_ELEMENT_BYTES;
  const text = (elements: number, memory: number) =>
    `(module (memory (export "memory") ${memory})
      (table $t (export "t") ${elements} funcref)
      (table $u (export "u") 0 externref)
      (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
      (func (export "growU") (param i32) (result i32) (table.grow $u (ref.null extern) (local.get 0)))
      (func (export "growM") (param i32) (result i32) (memory.grow (local.get 0))))`;
  // Starting above the limit: refused, naming the tables.
  await assert.rejects(
    async () =>
      meterFuel(await compileWatText("t.wat", text(perLimit + 1, 0)), {
        memoryLimitPages: limit,
      }),
    (err) =>
      err instanceof MemoryLimitError &&
      new RegExp(`tables start with ${perLimit + 1} elements`).test(
        err.message,
      ),
  );
  // With half the limit in memory, the tables get the other half, shared.
  const ex = instantiate(
    meterFuel(await compileWatText("t.wat", text(0, limit / 2)), {
      memoryLimitPages: limit,
    }),
  );
  fuelOf(ex).value = BIG;
  assert.equal(fn(ex, "grow")(perLimit / 4), 0);
  assert.equal(fn(ex, "growU")(perLimit / 4), 0);
  assert.throws(() => fn(ex, "growU")(1), isTrap);
  assert.equal((ex.__limit as WebAssembly.Global).value, 1);
  // A memory grow sees the tables too.
  (ex.__limit as WebAssembly.Global).value = 0;
  assert.throws(() => fn(ex, "growM")(1), isTrap);
  assert.equal((ex.__limit as WebAssembly.Global).value, 1);
  // Every table's maximum is capped: the host cannot grow one past it.
  assert.throws(() => (ex.t as WebAssembly.Table).grow(perLimit), RangeError);
});

Deno.test("meterFuel memoryLimitPages: bulk_bomb.wat's table.grow loop stops at the limit", async () => {
  const ex = instantiate(
    meterFuel(await compileWat("bulk_bomb"), { memoryLimitPages: 2048 }),
  );
  fuelOf(ex).value = BIG;
  assert.throws(() => fn(ex, "table_grow")(0, 0, 0), isTrap);
  assert.equal((ex.__limit as WebAssembly.Global).value, 1);
});

Deno.test("meterFuel memoryLimitPages: refuses many tables, 64-bit tables, and names them", async () => {
  const many = Array.from({ length: MAX_TABLES + 1 }, () => "(table 0 funcref)")
    .join(" ");
  const bytes = await compileWatText("many.wat", `(module ${many})`);
  assert.throws(
    () => meterFuel(bytes, { memoryLimitPages: 16 }),
    (err) =>
      err instanceof MeterError &&
      new RegExp(`has ${MAX_TABLES + 1} tables`).test(err.message),
  );
  // Without a limit, metered as before.
  assert.ok(WebAssembly.validate(meterFuel(bytes) as Uint8Array<ArrayBuffer>));
  // Ten tables of 10 million elements each (the engine's most): 6 GiB at
  // TABLE_ELEMENT_BYTES each, refused before anything is allocated.
  const huge = Array.from({ length: 10 }, () => "(table 10000000 funcref)")
    .join(" ");
  await assert.rejects(
    async () =>
      meterFuel(await compileWatText("huge.wat", `(module ${huge})`), {
        memoryLimitPages: 16384,
      }),
    MemoryLimitError,
  );
});

// --- interrupts ------------------------------------------------------------

/** An instance of `bytes` metered with `interrupt`, and a host hook. */
function withHook(
  bytes: Uint8Array,
  hook: (fuel: WebAssembly.Global) => void,
  options = {},
) {
  const ex = instantiate(meterFuel(bytes, { interrupt: true, ...options }));
  const fuel = fuelOf(ex);
  const helper = instantiate(hookModule(), {
    host: { hook: () => hook(fuel) },
  });
  (ex.__hooks as WebAssembly.Table).set(0, helper.hook as () => void);
  return { ex, fuel };
}

Deno.test("meterFuel interrupt: the hook is called each time a slice runs out, and can refill it or stop", async () => {
  const spin = await compileWat("spin");
  let calls = 0;
  const { ex, fuel } = withHook(spin, (f) => {
    calls++;
    if (calls < 50) f.value = 10_000n; // another slice
  });
  fuel.value = 10_000n;
  assert.throws(() => fn(ex, "event")(0, 0, 0), isTrap);
  assert.equal(calls, 50);
  assert.ok((fuel.value as bigint) < 0n);
});

Deno.test("meterFuel interrupt: fuel used is the same as without it, slices or not", async () => {
  const greet = await Deno.readFile(
    new URL("../examples/greet/greet.wasm", import.meta.url),
  );
  const plain = instantiate(meterFuel(greet));
  const ref = used(plain, () => fn(plain, "malloc")(100_000));
  let refilled = 0n;
  const { ex, fuel } = withHook(greet, (f) => {
    refilled += 7n - (f.value as bigint); // what the slice of 7 paid for
    f.value = 7n;
  });
  fuel.value = 7n;
  fn(ex, "malloc")(100_000);
  assert.equal(refilled + 7n - (fuel.value as bigint), ref);
});

Deno.test("meterFuel interrupt: with no hook set the module traps as without interrupt", async () => {
  const ex = instantiate(
    meterFuel(await compileWat("spin"), { interrupt: true }),
  );
  fuelOf(ex).value = 1000n;
  assert.throws(() => fn(ex, "event")(0, 0, 0), isTrap);
});

Deno.test("meterFuel interrupt: the start section becomes the __start export, run by the host", async () => {
  const audit = await Deno.readFile(
    new URL("../examples/greet/audit.wasm", import.meta.url),
  );
  const starts = WebAssembly.Module.exports(
    new WebAssembly.Module(audit as Uint8Array<ArrayBuffer>),
  ).length;
  let hookCalls = 0;
  // No initial fuel: had the start function run while instantiating, it
  // would have trapped there.
  const { ex, fuel } = withHook(audit, (f) => {
    hookCalls++;
    f.value = 1_000_000n;
  });
  assert.equal(typeof ex.__start, "function");
  // Its exports, and __fuel, __hooks and __start.
  assert.equal(Object.keys(ex).length, starts + 3);
  fuel.value = 0n;
  fn(ex, "__start")();
  assert.ok(hookCalls >= 1);
});

Deno.test("meterFuel interrupt: a bulk instruction's charge goes through the hook too", async () => {
  let calls = 0;
  const { ex, fuel } = withHook(
    await compileWatText("bulk.wat", BULK),
    (f) => {
      calls++;
      if ((f.value as bigint) > -1000n) f.value = 1n;
    },
  );
  fuel.value = 10n;
  fn(ex, "fill")(100); // 12 units: overdraws the slice, the hook refills
  assert.equal(calls, 1);
  fuel.value = 10n;
  assert.throws(() => fn(ex, "fill")(16 * PAGE), isTrap); // too deep: stopped
});
