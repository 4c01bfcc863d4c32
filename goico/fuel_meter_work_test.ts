/**
 * The fuel meter against modules that try to do a lot of work, or allocate
 * a lot, in few instructions: bulk memory and table instructions, tables
 * that count against the memory limit, and the interrupt hook that lets the
 * host stop a module at a deadline.
 */
import assert from "node:assert/strict";
import { compileWat, compileWatText } from "./_test_wat.ts";
import {
  BUDGET_EXPORT,
  BYTES_PER_FUEL,
  FUEL_PER_TABLE_ELEMENT,
  FUEL_SLICE,
  HOST_MODULE,
  MAX_TABLES,
  MEMORY_SECTION,
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

/**
 * An instance of `bytes` metered with `interrupt`: its memory made from the
 * meter's custom section, flags of its own, a budget of `total`.
 */
function interrupted(bytes: Uint8Array, options = {}) {
  const module = new WebAssembly.Module(
    meterFuel(bytes, { interrupt: true, ...options }) as Uint8Array<
      ArrayBuffer
    >,
  );
  const flags = new WebAssembly.Memory({
    initial: 1,
    maximum: 1,
    shared: true,
  });
  const host: WebAssembly.ModuleImports = { flags };
  const [section] = WebAssembly.Module.customSections(module, MEMORY_SECTION);
  if (section) {
    const limits = JSON.parse(new TextDecoder().decode(section));
    host.memory = new WebAssembly.Memory(limits);
  }
  const imports: WebAssembly.Imports = { [HOST_MODULE]: host };
  for (const i of WebAssembly.Module.imports(module)) {
    if (i.module === HOST_MODULE) continue;
    imports[i.module] = { ...imports[i.module], [i.name]: () => 0 };
  }
  const ex = new WebAssembly.Instance(module, imports).exports as Exports;
  const fuel = fuelOf(ex);
  const budget = ex[BUDGET_EXPORT] as WebAssembly.Global;
  const raised = new Int32Array(flags.buffer);
  return {
    ex,
    fuel,
    budget,
    raised,
    host,
    /** Gives a call `total` units: one slice now, the rest in the budget. */
    give(total: bigint) {
      const slice = total < BigInt(FUEL_SLICE) ? total : BigInt(FUEL_SLICE);
      fuel.value = slice;
      budget.value = total - slice;
    },
    used(total: bigint): bigint {
      return total - (fuel.value as bigint) - (budget.value as bigint);
    },
  };
}

Deno.test("meterFuel interrupt: the module takes slices from its budget, and the fuel used is the same as without", async () => {
  const count = await compileWatText(
    "count.wat",
    `(module (func (export "count") (param $n i32) (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))`,
  );
  const plain = instantiate(meterFuel(count));
  const ref = used(plain, () => fn(plain, "count")(1_000_000));
  assert.ok(ref > 5n * BigInt(FUEL_SLICE), `${ref} units: several slices`);
  const g = interrupted(count);
  g.give(BIG);
  fn(g.ex, "count")(1_000_000);
  assert.equal(g.used(BIG), ref);
});

Deno.test("meterFuel interrupt: a budget runs out like a plain one, across slices", async () => {
  const g = interrupted(await compileWat("spin"));
  g.give(10n * BigInt(FUEL_SLICE) + 7n);
  assert.throws(() => fn(g.ex, "event")(0, 0, 0), isTrap);
  assert.ok((g.fuel.value as bigint) < 0n);
  assert.equal(g.budget.value, 0n);
});

Deno.test("meterFuel interrupt: a flag raised by another thread stops a spinning module within a slice", async () => {
  const bytes = meterFuel(await compileWat("spin"), { interrupt: true });
  // The module spins in a Worker; this thread raises the flag.
  const worker = new Worker(
    `data:text/javascript,${
      encodeURIComponent(`
      self.onmessage = (e) => {
        const { bytes, flags } = e.data;
        const module = new WebAssembly.Module(bytes);
        const [s] = WebAssembly.Module.customSections(module, "jobico.memory");
        const memory = new WebAssembly.Memory(JSON.parse(new TextDecoder().decode(s)));
        const ex = new WebAssembly.Instance(module, {
          __jobico: { memory, flags },
          env: { log: () => {} },
        }).exports;
        ex.__fuel.value = 1000000n;
        ex.__budget.value = 10n ** 15n; // hours of spinning
        self.postMessage("spinning");
        try { ex.event(0, 0, 0); } catch (err) {
          self.postMessage({ trapped: String(err), left: ex.__budget.value });
        }
      };`)
    }`,
    { type: "module" },
  );
  try {
    const flags = new WebAssembly.Memory({
      initial: 1,
      maximum: 1,
      shared: true,
    });
    const answers: unknown[] = [];
    let wake = () => {};
    worker.onmessage = (e) => {
      answers.push(e.data);
      wake();
    };
    const next = () => new Promise<void>((r) => (wake = r));
    worker.postMessage({ bytes, flags });
    await next(); // "spinning"
    await new Promise((r) => setTimeout(r, 50));
    Atomics.store(new Int32Array(flags.buffer), 0, 1);
    await next();
    const { trapped, left } = answers[1] as { trapped: string; left: bigint };
    assert.match(trapped, /unreachable/);
    assert.ok(left > 10n ** 14n, "stopped by the flag, not by its budget");
  } finally {
    worker.terminate();
  }
});

Deno.test("meterFuel interrupt: the flag at offset 4 stops it too, and a raised flag stops the next slice at once", async () => {
  for (const at of [0, 1]) {
    const g = interrupted(await compileWat("spin"));
    g.give(BIG);
    Atomics.store(g.raised, at, 1);
    assert.throws(() => fn(g.ex, "event")(0, 0, 0), isTrap);
    // It ran one slice at most.
    assert.ok(g.used(BIG) <= BigInt(FUEL_SLICE) + 100n, `${g.used(BIG)}`);
  }
});

Deno.test("meterFuel interrupt: the memory moves to an import with its limits, data segments still land in it", async () => {
  const bytes = await compileWatText(
    "data.wat",
    `(module
      (memory (export "memory") 2 9)
      (data (i32.const 100) "hello")
      (func (export "peek") (result i32) (i32.load8_u (i32.const 100))))`,
  );
  const g = interrupted(bytes, { memoryLimitPages: 4 });
  const imports = WebAssembly.Module.imports(
    new WebAssembly.Module(
      meterFuel(bytes, { interrupt: true, memoryLimitPages: 4 }) as Uint8Array<
        ArrayBuffer
      >,
    ),
  ).map((i) => `${i.module}.${i.name}:${i.kind}`);
  assert.deepEqual(imports, [
    "__jobico.memory:memory",
    "__jobico.flags:memory",
  ]);
  // The memory the host made is the module's, capped at the limit.
  assert.equal(g.ex.memory, g.host.memory);
  assert.equal((g.ex.memory as WebAssembly.Memory).buffer.byteLength, 2 * PAGE);
  assert.throws(() => (g.ex.memory as WebAssembly.Memory).grow(3), RangeError);
  g.give(BIG);
  assert.equal(fn(g.ex, "peek")(), "h".charCodeAt(0));
});

Deno.test("meterFuel interrupt: the start section becomes the __start export, run by the host", async () => {
  const audit = await Deno.readFile(
    new URL("../examples/greet/audit.wasm", import.meta.url),
  );
  const exportsBefore = WebAssembly.Module.exports(
    new WebAssembly.Module(audit as Uint8Array<ArrayBuffer>),
  ).length;
  // Nothing runs while instantiating: with no fuel, it would trap there.
  const g = interrupted(audit);
  assert.equal(typeof g.ex.__start, "function");
  // Its exports, and __fuel, __budget and __start.
  assert.equal(Object.keys(g.ex).length, exportsBefore + 3);
  g.give(BIG);
  fn(g.ex, "__start")();
  assert.ok(g.used(BIG) > 0n);
});
