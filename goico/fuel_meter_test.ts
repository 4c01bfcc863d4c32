import assert from "node:assert/strict";
import { WASI } from "@bjorn3/browser_wasi_shim";
import wabtFactory from "wabt";
import { compileWat, compileWatText } from "./_test_wat.ts";
import { WasmReader } from "./_wasm_reader.ts";
import {
  BYTES_PER_FUEL,
  formatPages,
  MAX_METERED_BYTES,
  MemoryLimitError,
  MeterError,
  meterFuel,
} from "./fuel_meter.ts";

const BIG = 10n ** 12n;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Fn = (...args: number[]) => number | undefined;

async function example(name: string): Promise<Uint8Array> {
  return await Deno.readFile(
    new URL(`../examples/greet/${name}.wasm`, import.meta.url),
  );
}

/** Compiles an inline WAT snippet (the fixtures go through compileWat). */
function wat(
  text: string,
  features: Record<string, boolean> = {},
): Promise<Uint8Array> {
  return compileWatText("inline.wat", text, features);
}

function compile(bytes: Uint8Array): WebAssembly.Module {
  return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
}

interface Outcome {
  code: bigint;
  result: string;
  /** Fuel used by the main function (undefined when not metered). */
  used?: bigint;
}

/** A Jobicolet instance driven through the ABI, with or without fuel. */
class Guest {
  readonly ex: Record<string, Fn>;
  readonly fuel?: WebAssembly.Global;
  readonly limit?: WebAssembly.Global;
  readonly ver: number;

  constructor(bytes: Uint8Array) {
    const wasi = new WASI([], [], []);
    const instance = new WebAssembly.Instance(compile(bytes), {
      env: { log: () => {} },
      wasi_snapshot_preview1: wasi.wasiImport as WebAssembly.ModuleImports,
    });
    wasi.inst = instance as unknown as typeof wasi.inst;
    this.ex = instance.exports as unknown as Record<string, Fn>;
    this.fuel = instance.exports.__fuel as WebAssembly.Global | undefined;
    this.limit = instance.exports.__limit as WebAssembly.Global | undefined;
    if (this.ex._start) this.metered(() => this.ex._start());
    this.metered(() => this.ex.init());
    this.ver = this.ex.ver ? this.metered(() => this.ex.ver()) as number : 0;
  }

  /** Runs `fn` with a fresh budget and returns its result. */
  metered<T>(fn: () => T, budget = BIG): T {
    if (this.fuel) this.fuel.value = budget;
    return fn();
  }

  get memory(): WebAssembly.Memory {
    return this.ex.memory as unknown as WebAssembly.Memory;
  }

  free(ptr: number, size: number): void {
    this.metered(() =>
      this.ver === 1 ? this.ex.free(ptr, size) : this.ex.free(ptr)
    );
  }

  call(input: string, budget = BIG): Outcome {
    const bytes = encoder.encode(input);
    const inPtr = this.metered(() => this.ex.malloc(bytes.length)) as number;
    new Uint8Array(this.memory.buffer).set(bytes, inPtr);
    const ret = this.metered(() => this.ex.malloc(16)) as number;
    this.metered(() => this.ex.event(ret, inPtr, bytes.length), budget);
    const used = this.fuel ? budget - (this.fuel.value as bigint) : undefined;
    const view = new DataView(this.memory.buffer);
    const code = view.getBigUint64(ret, true);
    const enc = view.getBigUint64(ret + 8, true);
    const ptr = Number(enc >> 32n);
    const len = Number(enc & 0xffffffffn);
    const result = decoder.decode(
      new Uint8Array(this.memory.buffer, ptr, len).slice(),
    );
    if (ptr !== 0) this.free(ptr, len);
    this.free(ret, 16);
    this.free(inPtr, bytes.length);
    return { code, result, used };
  }
}

function kinds(bytes: Uint8Array): string[] {
  return WebAssembly.Module.exports(compile(bytes)).map((e) =>
    `${e.name}:${e.kind}`
  );
}

const FIXTURE_NAMES = [
  "echo",
  "wasi_echo",
  "error",
  "trap",
  "trapping_free",
  "bad_log",
  "spin",
  "recurse",
  "grow",
  "memory_bomb",
];

Deno.test("meterFuel: metered modules validate and keep their exports and imports", async () => {
  const modules: [string, Uint8Array][] = [
    ["greet.wasm", await example("greet")],
    ["audit.wasm", await example("audit")],
  ];
  for (const name of FIXTURE_NAMES) {
    modules.push([`${name}.wat`, await compileWat(name)]);
  }
  for (const [name, bytes] of modules) {
    const metered = meterFuel(bytes);
    assert.ok(
      WebAssembly.validate(metered as Uint8Array<ArrayBuffer>),
      `${name} metered is valid`,
    );
    assert.deepEqual(kinds(metered), [...kinds(bytes), "__fuel:global"], name);
    assert.deepEqual(
      WebAssembly.Module.imports(compile(metered)),
      WebAssembly.Module.imports(compile(bytes)),
      name,
    );
  }
});

Deno.test("meterFuel: does not modify its input and is deterministic", async () => {
  const bytes = await example("greet");
  const copy = bytes.slice();
  const a = meterFuel(bytes);
  assert.deepEqual(bytes, copy);
  assert.deepEqual(meterFuel(bytes), a);
});

const GREET_INPUTS = [
  '{"name":"Ada"}',
  '{"name":"Voldemort"}',
  '{"nom":"Ada"}',
  '{"name":""}',
  '{"name":"Grace Brewster Murray Hopper"}',
  '{"name":"Zoë 🚀"}',
  "not json",
];

Deno.test("meterFuel: greet.wasm (C, WASI) gives the same results metered", async () => {
  const bytes = await example("greet");
  const plain = new Guest(bytes);
  const metered = new Guest(meterFuel(bytes));
  assert.equal(plain.fuel, undefined);
  for (const input of GREET_INPUTS) {
    const a = plain.call(input);
    const b = metered.call(input);
    assert.deepEqual([b.code, b.result], [a.code, a.result], input);
    assert.ok(b.used! > 0n, `fuel used for ${input}`);
  }
  assert.equal(
    metered.call('{"name":"Ada"}').result,
    '{"greeting":"Hello, Ada!"}',
  );
});

Deno.test("meterFuel: audit.wasm (AssemblyScript, start section) gives the same results metered", async () => {
  const bytes = await example("audit");
  // audit.wasm has a start section: with no initial fuel it traps while
  // instantiating, which is the meter doing its job.
  assert.throws(() => new Guest(meterFuel(bytes)), WebAssembly.RuntimeError);

  const plain = new Guest(bytes);
  const metered = new Guest(meterFuel(bytes, { initialFuel: BIG }));
  for (const input of [...GREET_INPUTS, "x".repeat(1000)]) {
    const a = plain.call(input);
    const b = metered.call(input);
    assert.deepEqual([b.code, b.result], [a.code, a.result], input);
    assert.ok(b.used! > 0n);
  }
});

Deno.test("meterFuel: fuel used grows with the work done", async () => {
  const greet = new Guest(meterFuel(await example("greet")));
  const short = greet.call('{"name":"Ada"}').used!;
  const long = greet.call(`{"name":"${"A".repeat(100)}"}`).used!;
  assert.ok(short > 0n);
  assert.ok(long > short, `${long} > ${short}`);
  // The same call on a fresh instance costs the same fuel.
  const again = new Guest(meterFuel(await example("greet")));
  assert.equal(again.call('{"name":"Ada"}').used, short);

  const audit = new Guest(
    meterFuel(await example("audit"), { initialFuel: BIG }),
  );
  const a10 = audit.call("x".repeat(10)).used!;
  const a100 = audit.call("x".repeat(100)).used!;
  assert.ok(a100 > a10, `${a100} > ${a10}`);

  // echo copies its input with one memory.copy: a bulk memory instruction
  // also costs one unit per BYTES_PER_FUEL bytes of its length.
  const echo = new Guest(meterFuel(await compileWat("echo")));
  const e1 = echo.call("abcdefghij");
  const e10 = echo.call("abcdefghij".repeat(10));
  assert.equal(e10.result, "abcdefghij".repeat(10));
  assert.ok(e1.used! > 0n);
  const perByte = BigInt(BYTES_PER_FUEL);
  assert.equal(e10.used! - e1.used!, 100n / perByte - 10n / perByte);
});

Deno.test("meterFuel: the charge is exact per loop iteration", async () => {
  const bytes = await wat(`(module
    (func (export "count") (param $n i32) (result i32)
      (local $i i32)
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.get $i)))`);
  const instance = new WebAssembly.Instance(compile(meterFuel(bytes)));
  const count = instance.exports.count as (n: number) => number;
  const fuel = instance.exports.__fuel as WebAssembly.Global;
  const used = (n: number) => {
    fuel.value = BIG;
    assert.equal(count(n), n);
    return BIG - (fuel.value as bigint);
  };
  const u0 = used(0);
  const u1 = used(1);
  const u2 = used(2);
  const u100 = used(100);
  // Loop region: local.get local.get i32.ge_u br_if local.get i32.const
  // i32.add local.set br end = 10 instructions per iteration (entry included).
  assert.equal(u2 - u1, 10n);
  assert.equal(u1 - u0, 10n);
  assert.equal(u100 - u0, 1000n);
  // Function region: block loop end local.get end.
  assert.equal(u0, 5n + 10n);

  // Exactly enough fuel passes, one less traps.
  fuel.value = u100;
  assert.equal(count(100), 100);
  assert.equal(fuel.value, 0n);
  fuel.value = u100 - 1n;
  assert.throws(() => count(100), WebAssembly.RuntimeError);
});

Deno.test("meterFuel: spin.wat traps with unreachable instead of hanging", async () => {
  const guest = new Guest(meterFuel(await compileWat("spin")));
  const t0 = performance.now();
  assert.throws(
    () => guest.call("{}", 1_000_000n),
    (err) =>
      err instanceof WebAssembly.RuntimeError &&
      /unreachable/.test(err.message),
  );
  const ms = performance.now() - t0;
  assert.ok((guest.fuel!.value as bigint) < 0n);
  console.log(`spin.wat: 1e6 fuel ran out after ${ms.toFixed(1)} ms`);
});

Deno.test("meterFuel: recurse.wat still overflows the stack", async () => {
  const bytes = await compileWat("recurse");
  for (const b of [bytes, meterFuel(bytes)]) {
    const guest = new Guest(b);
    assert.throws(
      () => guest.call("{}"),
      (err) =>
        err instanceof RangeError || err instanceof WebAssembly.RuntimeError,
    );
  }
  // With a small budget the fuel runs out before the stack does.
  const guest = new Guest(meterFuel(bytes));
  assert.throws(
    () => guest.call("{}", 1000n),
    (err) =>
      err instanceof WebAssembly.RuntimeError &&
      /unreachable/.test(err.message),
  );
});

Deno.test("meterFuel: grow.wat stops at its memory maximum and returns code 3", async () => {
  const bytes = await compileWat("grow");
  for (const b of [bytes, meterFuel(bytes)]) {
    const guest = new Guest(b);
    const out = guest.call("{}");
    assert.equal(out.code, 3n);
    assert.equal(out.result, "");
    assert.equal(guest.memory.buffer.byteLength, 16 * 65536);
  }
});

Deno.test("meterFuel: refuses bytes that are not a module", () => {
  for (
    const bad of [
      new Uint8Array(),
      encoder.encode("hello world"),
      Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x02, 0, 0, 0),
      Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0, 0, 0, 0x01, 0x05),
    ]
  ) {
    assert.throws(() => meterFuel(bad), MeterError);
  }
});

Deno.test("meterFuel: refuses SIMD and threads instructions, naming the opcode and function", async () => {
  const simd = await wat(
    `(module
      (func (export "a") (result i32) (i32.const 1))
      (func (export "b") (result i32)
        (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))`,
    { simd: true },
  );
  assert.ok(WebAssembly.validate(simd as Uint8Array<ArrayBuffer>));
  assert.throws(
    () => meterFuel(simd),
    (err) =>
      err instanceof MeterError && /opcode 0xfd/.test(err.message) &&
      /function 1\b/.test(err.message),
  );

  // atomic.fence (0xfe 0x03 0x00), built by hand: one type () -> (), one
  // function, its body.
  const threads = Uint8Array.of(
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, 0x04, 0x01, 0x60, 0x00, 0x00], // type section
    ...[0x03, 0x02, 0x01, 0x00], // function section
    ...[0x0a, 0x07, 0x01, 0x05, 0x00, 0xfe, 0x03, 0x00, 0x0b], // code section
  );
  assert.ok(WebAssembly.validate(threads));
  assert.throws(
    () => meterFuel(threads),
    (err) =>
      err instanceof MeterError && /opcode 0xfe/.test(err.message) &&
      /function 0\b/.test(err.message),
  );
});

Deno.test("meterFuel: a module with no code, globals or exports gets the fuel global", async () => {
  const empty = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0, 0, 0);
  const metered = meterFuel(empty, { initialFuel: 42n });
  const instance = new WebAssembly.Instance(compile(metered));
  assert.equal((instance.exports.__fuel as WebAssembly.Global).value, 42n);

  const memOnly = meterFuel(
    await wat(`(module (memory 1) (data (i32.const 0) "x"))`),
  );
  assert.deepEqual(kinds(memOnly), ["__fuel:global"]);
});

Deno.test("meterFuel: indexes the fuel global after imported and defined globals", async () => {
  const bytes = await wat(`(module
    (import "host" "g" (global $g i64))
    (global $a (mut i64) (i64.const 7))
    (global $b i32 (i32.const 9))
    (func (export "sum") (result i64)
      (i64.add (global.get $g) (i64.add (global.get $a) (i64.extend_i32_u (global.get $b))))))`);
  const metered = meterFuel(bytes, { exportName: "gas" });
  const instance = new WebAssembly.Instance(compile(metered), {
    host: { g: new WebAssembly.Global({ value: "i64" }, 100n) },
  });
  const gas = instance.exports.gas as WebAssembly.Global;
  gas.value = 1000n;
  assert.equal((instance.exports.sum as () => bigint)(), 116n);
  assert.ok((gas.value as bigint) < 1000n);
  assert.equal(instance.exports.__fuel, undefined);
});

Deno.test("meterFuel: keeps custom sections and the data count section", async () => {
  const base = await compileWat("echo");
  const name = encoder.encode("jobico.note");
  const data = encoder.encode("kept as is");
  const custom = Uint8Array.of(
    0,
    1 + name.length + data.length,
    name.length,
    ...name,
    ...data,
  );
  const withCustom = new Uint8Array([...base, ...custom]);
  const metered = meterFuel(withCustom);
  const sections = WebAssembly.Module.customSections(
    compile(metered),
    "jobico.note",
  );
  assert.equal(sections.length, 1);
  assert.equal(decoder.decode(sections[0]), "kept as is");
  const out = new Guest(metered).call("hi");
  assert.deepEqual([out.code, out.result], [0n, "hi"]);

  // data.drop needs the data count section, which must stay in place.
  const dropper = await wat(`(module (memory 1) (data $d "abc")
    (func (export "f") (memory.init $d (i32.const 0) (i32.const 0) (i32.const 3)) (data.drop $d)))`);
  const instance = new WebAssembly.Instance(compile(meterFuel(dropper)));
  (instance.exports.__fuel as WebAssembly.Global).value = 100n;
  (instance.exports.f as () => void)();
});

Deno.test("meterFuel: refuses a module that already exports the fuel name", async () => {
  const bytes = await wat(
    `(module (global (export "__fuel") i32 (i32.const 0)))`,
  );
  assert.throws(() => meterFuel(bytes), /already exports "__fuel"/);
  assert.ok(meterFuel(bytes, { exportName: "fuel2" }).length > bytes.length);
});

Deno.test("meterFuel: overhead on greet.wasm (printed, not asserted)", async () => {
  const bytes = await example("greet");
  const metered = meterFuel(bytes);
  const N = 20_000;
  const rate = (b: Uint8Array) => {
    const guest = new Guest(b);
    for (let i = 0; i < 1000; i++) guest.call('{"name":"Ada"}');
    const t0 = performance.now();
    for (let i = 0; i < N; i++) guest.call(`{"name":"Ada ${i % 100}"}`);
    return N / ((performance.now() - t0) / 1000);
  };
  const plain = rate(bytes);
  const fueled = rate(metered);
  console.log(
    `greet.wasm: ${plain.toFixed(0)} calls/s unmetered, ` +
      `${fueled.toFixed(0)} calls/s metered, ratio ${
        (plain / fueled).toFixed(2)
      }x; size ${bytes.length} -> ${metered.length} bytes`,
  );
});

// ---- Memory limit --------------------------------------------------------

const PAGE = 65536;

/**
 * Compiles WAT that needs a wasm feature wabt does not enable by default
 * (compileWatText passes `features` to the parser but not to wabt's
 * validator, and its typings declare no argument for it): V8 validates.
 */
async function watWith(
  text: string,
  features: Record<string, boolean>,
): Promise<Uint8Array> {
  const wabt = await wabtFactory();
  const module = wabt.parseWat("inline.wat", text, features);
  try {
    module.resolveNames();
    const bytes = new Uint8Array(module.toBinary({}).buffer);
    assert.ok(WebAssembly.validate(bytes), "the engine validates it");
    return bytes;
  } finally {
    module.destroy();
  }
}

/** The entry count of the section `id` (0 when the module has none). */
function sectionCount(bytes: Uint8Array, id: number): number {
  const r = new WasmReader(bytes, 8);
  while (!r.done) {
    const sid = r.u8();
    const size = r.u32();
    if (sid === id) return new WasmReader(bytes, r.pos, r.pos + size).u32();
    r.skip(size);
  }
  return 0;
}
const TYPES = 1;
const FUNCTIONS = 3;

function instantiate(
  bytes: Uint8Array,
  imports: WebAssembly.Imports = {},
): Record<string, unknown> {
  const metered = compile(bytes);
  return new WebAssembly.Instance(metered, imports).exports;
}

function isTrap(err: unknown): boolean {
  return err instanceof WebAssembly.RuntimeError &&
    /unreachable/.test(err.message);
}

/** `grow(delta)` and `size()` over one memory with the given limits. */
const GROWER = (limits: string) =>
  wat(`(module
    (memory (export "memory") ${limits})
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "size") (result i32) (memory.size)))`);

Deno.test("meterFuel memoryLimitPages: every fixture validates, with both globals exported", async () => {
  const modules: [string, Uint8Array][] = [
    ["greet.wasm", await example("greet")],
    ["audit.wasm", await example("audit")],
  ];
  for (const name of FIXTURE_NAMES) {
    modules.push([`${name}.wat`, await compileWat(name)]);
  }
  for (const [name, bytes] of modules) {
    const metered = meterFuel(bytes, { memoryLimitPages: 256 });
    assert.ok(
      WebAssembly.validate(metered as Uint8Array<ArrayBuffer>),
      `${name} metered is valid`,
    );
    assert.deepEqual(
      kinds(metered),
      [...kinds(bytes), "__fuel:global", "__limit:global"],
      name,
    );
    assert.deepEqual(
      WebAssembly.Module.imports(compile(metered)),
      WebAssembly.Module.imports(compile(bytes)),
      name,
    );
  }
});

Deno.test("meterFuel memoryLimitPages: a memory without a maximum grows up to the limit, then traps with __limit = 1", async () => {
  const ex = instantiate(
    meterFuel(await GROWER("1"), { memoryLimitPages: 4 }),
  );
  const grow = ex.grow as (n: number) => number;
  const memory = ex.memory as WebAssembly.Memory;
  const limit = ex.__limit as WebAssembly.Global;
  (ex.__fuel as WebAssembly.Global).value = BIG;
  assert.equal(limit.value, 0);
  assert.equal(grow(2), 1);
  assert.equal(grow(1), 3);
  assert.equal(grow(0), 4); // a zero delta at the limit is fine
  assert.equal(memory.buffer.byteLength, 4 * PAGE);
  assert.equal(limit.value, 0);
  assert.throws(() => grow(1), isTrap);
  assert.equal(limit.value, 1);
  assert.equal(memory.buffer.byteLength, 4 * PAGE);
  // The declared maximum is the limit: the host cannot grow it either.
  assert.throws(() => memory.grow(1), RangeError);
});

Deno.test("meterFuel memoryLimitPages: a larger declared maximum is lowered, a smaller one kept", async () => {
  const lowered = instantiate(
    meterFuel(await GROWER("1 100"), { memoryLimitPages: 4 }),
  );
  (lowered.__fuel as WebAssembly.Global).value = BIG;
  (lowered.memory as WebAssembly.Memory).grow(3);
  assert.throws(() => (lowered.memory as WebAssembly.Memory).grow(1));
  assert.throws(() => (lowered.grow as (n: number) => number)(1), isTrap);
  assert.equal((lowered.__limit as WebAssembly.Global).value, 1);

  // The module's own maximum (2) is below the limit: growing past it fails
  // softly with -1, as without the limit, and is not the limit's doing.
  const kept = instantiate(
    meterFuel(await GROWER("1 2"), { memoryLimitPages: 4 }),
  );
  const grow = kept.grow as (n: number) => number;
  (kept.__fuel as WebAssembly.Global).value = BIG;
  assert.equal(grow(1), 1);
  assert.equal(grow(1), -1);
  assert.equal(grow(2), -1);
  assert.equal((kept.__limit as WebAssembly.Global).value, 0);
  assert.throws(() => grow(3), isTrap); // 2 + 3 > 4
  assert.equal((kept.__limit as WebAssembly.Global).value, 1);
});

Deno.test("meterFuel memoryLimitPages: a delta of 0xFFFFFFFF does not wrap around", async () => {
  const bytes = await GROWER("1");
  // In i32, 1 + 0xFFFFFFFF would wrap to 0, which is below the limit.
  const plain = instantiate(bytes);
  assert.equal((plain.grow as (n: number) => number)(-1), -1);
  for (const delta of [-1, 0x7fffffff, 0x80000000 | 0, 65535]) {
    const ex = instantiate(meterFuel(bytes, { memoryLimitPages: 4 }));
    (ex.__fuel as WebAssembly.Global).value = BIG;
    assert.throws(() => (ex.grow as (n: number) => number)(delta), isTrap);
    assert.equal((ex.__limit as WebAssembly.Global).value, 1, `${delta}`);
    assert.equal((ex.memory as WebAssembly.Memory).buffer.byteLength, PAGE);
  }
});

Deno.test("meterFuel memoryLimitPages: a memory that starts above the limit is a MemoryLimitError", async () => {
  const bytes = await wat(`(module (memory (export "memory") 300))`);
  assert.throws(
    () => meterFuel(bytes, { memoryLimitPages: 256 }),
    (err) => {
      assert.ok(err instanceof MemoryLimitError);
      assert.ok(err instanceof MeterError);
      assert.equal(err.name, "MemoryLimitError");
      assert.equal(
        err.message,
        "the module's memory 0 starts at 300 pages (18.75 MiB), " +
          "more than the limit of 256 pages (16 MiB)",
      );
      assert.deepEqual(
        [err.memoryIndex, err.pages, err.limitPages],
        [0, 300, 256],
      );
      return true;
    },
  );
  // Exactly at the limit is fine: the memory just cannot grow.
  const at = instantiate(meterFuel(bytes, { memoryLimitPages: 300 }));
  assert.equal((at.memory as WebAssembly.Memory).buffer.byteLength, 300 * PAGE);
  assert.throws(() => (at.memory as WebAssembly.Memory).grow(1), RangeError);

  // An imported memory is named with its import.
  const imported = await wat(`(module (import "env" "mem" (memory 20)))`);
  assert.throws(
    () => meterFuel(imported, { memoryLimitPages: 1 }),
    new MemoryLimitError(
      `the module's memory 0 (imported as "env"."mem") starts at 20 pages ` +
        "(1.25 MiB), more than the limit of 1 page (64 KiB)",
      0,
      20,
      1,
    ),
  );
});

Deno.test("meterFuel memoryLimitPages: an imported memory must come with a maximum within the limit", async () => {
  const bytes = meterFuel(
    await wat(`(module (import "env" "mem" (memory 1))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`),
    { memoryLimitPages: 4 },
  );
  const link = (memory: WebAssembly.Memory) =>
    instantiate(bytes, { env: { mem: memory } });
  assert.throws(
    () => link(new WebAssembly.Memory({ initial: 1 })),
    WebAssembly.LinkError,
  );
  assert.throws(
    () => link(new WebAssembly.Memory({ initial: 1, maximum: 5 })),
    WebAssembly.LinkError,
  );
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const ex = link(memory);
  (ex.__fuel as WebAssembly.Global).value = BIG;
  assert.equal((ex.grow as (n: number) => number)(3), 1);
  assert.equal(memory.buffer.byteLength, 4 * PAGE);
  assert.throws(() => (ex.grow as (n: number) => number)(1), isTrap);
  assert.equal((ex.__limit as WebAssembly.Global).value, 1);
});

Deno.test("meterFuel memoryLimitPages: modules without memory or without memory.grow get only the global", async () => {
  const empty = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0, 0, 0);
  const metered = meterFuel(empty, { memoryLimitPages: 16 });
  assert.deepEqual(kinds(metered), ["__fuel:global", "__limit:global"]);
  assert.equal(sectionCount(metered, FUNCTIONS), 0);
  assert.equal(sectionCount(metered, TYPES), 0);

  const noMemory = await wat(`(module
    (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))`);
  const a = meterFuel(noMemory, { memoryLimitPages: 16 });
  assert.equal(sectionCount(a, FUNCTIONS), 1);
  assert.equal(sectionCount(a, TYPES), 1);
  const ex = instantiate(a);
  (ex.__fuel as WebAssembly.Global).value = BIG;
  assert.equal((ex.f as (n: number) => number)(41), 42);
  assert.equal((ex.__limit as WebAssembly.Global).value, 0);

  // A memory but no memory.grow: its maximum is set, no function added.
  const noGrow = await wat(`(module (memory (export "memory") 1)
    (func (export "size") (result i32) (memory.size)))`);
  const b = meterFuel(noGrow, { memoryLimitPages: 2 });
  assert.equal(sectionCount(b, FUNCTIONS), 1);
  assert.equal(sectionCount(b, TYPES), 1);
  const memory = instantiate(b).memory as WebAssembly.Memory;
  memory.grow(1);
  assert.throws(() => memory.grow(1), RangeError);
});

Deno.test("meterFuel memoryLimitPages: the grow function reuses an (i32) -> (i32) type or appends one", async () => {
  // memory_bomb's malloc has the type (i32) -> (i32): reused.
  const bomb = await compileWat("memory_bomb");
  const m = meterFuel(bomb, { memoryLimitPages: 64 });
  assert.equal(sectionCount(m, TYPES), sectionCount(bomb, TYPES));
  assert.equal(sectionCount(m, FUNCTIONS), sectionCount(bomb, FUNCTIONS) + 1);

  const noSuchType = await wat(`(module (memory 1)
    (func (export "g") (drop (memory.grow (i32.const 1))))
    (func (export "h") (result i32) (drop (memory.grow (i32.const 1))) (memory.size)))`);
  const n = meterFuel(noSuchType, { memoryLimitPages: 2 });
  assert.equal(sectionCount(n, TYPES), sectionCount(noSuchType, TYPES) + 1);
  assert.equal(sectionCount(n, FUNCTIONS), 3); // two grows, one memory
  const ex = instantiate(n);
  (ex.__fuel as WebAssembly.Global).value = BIG;
  (ex.g as () => void)();
  assert.throws(() => (ex.h as () => number)(), isTrap);
  assert.equal((ex.__limit as WebAssembly.Global).value, 1);
});

Deno.test("meterFuel memoryLimitPages: fuel used is the same with and without the limit", async () => {
  // memory.grow inside loops and blocks, plus a call, in one function.
  const bytes = await wat(`(module
    (memory (export "memory") 1)
    (func $touch (param $page i32)
      (i32.store (i32.shl (local.get $page) (i32.const 16)) (local.get $page)))
    (func (export "run") (param $n i32) (result i32)
      (local $i i32) (local $j i32)
      (loop $outer
        (if (i32.and (local.get $i) (i32.const 1))
          (then (drop (memory.grow (i32.const 1))))
          (else
            (local.set $j (i32.const 0))
            (loop $inner
              (call $touch (i32.sub (memory.grow (i32.const 0)) (i32.const 1)))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br_if $inner (i32.lt_u (local.get $j) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
      (memory.size)))`);
  const used = (metered: Uint8Array, n: number) => {
    const ex = instantiate(metered);
    const fuel = ex.__fuel as WebAssembly.Global;
    fuel.value = BIG;
    const pages = (ex.run as (n: number) => number)(n);
    return { pages, used: BIG - (fuel.value as bigint) };
  };
  const plain = meterFuel(bytes);
  const limited = meterFuel(bytes, { memoryLimitPages: 64 });
  assert.notDeepEqual(limited, plain);
  for (const n of [1, 2, 10, 100]) {
    const a = used(plain, n);
    const b = used(limited, n);
    assert.deepEqual(b, a, `n = ${n}`);
    assert.equal(a.pages, 1 + Math.floor(n / 2));
  }
  // Past the limit: 1 + 127 / 2 = 64 pages fits, 1 + 129 / 2 = 65 does not.
  assert.equal(used(limited, 127).pages, 64);
  assert.throws(() => used(limited, 129), isTrap);

  // The same for a real workload: greet.wasm's allocator grows memory.
  const greet = await example("greet");
  const g1 = new Guest(meterFuel(greet));
  const g2 = new Guest(meterFuel(greet, { memoryLimitPages: 256 }));
  for (const input of [...GREET_INPUTS, `{"name":"${"x".repeat(200_000)}"}`]) {
    const a = g1.call(input);
    const b = g2.call(input);
    assert.deepEqual(b, a, input.slice(0, 20));
  }
  assert.equal(g2.limit!.value, 0);
});

Deno.test("meterFuel memoryLimitPages: memory_bomb.wat traps at the limit with __limit = 1", async () => {
  const bytes = await compileWat("memory_bomb");
  const guest = new Guest(meterFuel(bytes, { memoryLimitPages: 256 }));
  assert.equal(guest.ver, 1);
  assert.throws(() => guest.call("{}"), isTrap);
  assert.equal(guest.limit!.value, 1);
  // 1 page + 15 grows of 16 pages; the 16th would reach 257.
  assert.equal(guest.memory.buffer.byteLength, 241 * PAGE);
  assert.ok((guest.fuel!.value as bigint) > 0n);
});

Deno.test("meterFuel memoryLimitPages: grow.wat below its own maximum still returns code 3, above it traps", async () => {
  const bytes = await compileWat("grow");
  const soft = new Guest(meterFuel(bytes, { memoryLimitPages: 256 }));
  const out = soft.call("{}");
  assert.deepEqual([out.code, out.result], [3n, ""]);
  assert.equal(soft.memory.buffer.byteLength, 16 * PAGE);
  assert.equal(soft.limit!.value, 0);

  const hard = new Guest(meterFuel(bytes, { memoryLimitPages: 8 }));
  assert.throws(() => hard.call("{}"), isTrap);
  assert.equal(hard.limit!.value, 1);
  assert.equal(hard.memory.buffer.byteLength, 8 * PAGE);
});

Deno.test("meterFuel memoryLimitPages: multi-memory is refused (it would multiply the limit), metered without a limit", async () => {
  const bytes = await watWith(
    `(module
      (memory $a (export "a") 1)
      (memory $b (export "b") 1 100)
      (func (export "growB") (param i32) (result i32) (memory.grow $b (local.get 0))))`,
    { multi_memory: true },
  );
  assert.throws(
    () => meterFuel(bytes, { memoryLimitPages: 3 }),
    (err) =>
      err instanceof MeterError &&
      /has 2 memories; a module with a memory limit may have one/.test(
        err.message,
      ),
  );
  const ex = instantiate(meterFuel(bytes));
  (ex.__fuel as WebAssembly.Global).value = BIG;
  assert.equal((ex.growB as (n: number) => number)(2), 1);
});

Deno.test("meterFuel: multi-memory memargs (memory index after the alignment) are read right", async () => {
  const bytes = await watWith(
    `(module (memory 1) (memory $b 1)
      (func (export "f") (result i32)
        (i32.store $b offset=4 (i32.const 0) (i32.const 7))
        (i32.load $b offset=4 (i32.const 0))))`,
    { multi_memory: true },
  );
  const ex = instantiate(meterFuel(bytes));
  const fuel = ex.__fuel as WebAssembly.Global;
  fuel.value = BIG;
  assert.equal((ex.f as () => number)(), 7);
  // i32.const i32.const i32.store i32.const i32.load end
  assert.equal(BIG - (fuel.value as bigint), 6n);
});

Deno.test("meterFuel memoryLimitPages: refuses shared and 64-bit memories, naming them", async () => {
  const shared = await watWith(`(module (memory 1 2 shared))`, {
    threads: true,
  });
  assert.throws(
    () => meterFuel(shared, { memoryLimitPages: 4 }),
    (err) =>
      err instanceof MeterError && !(err instanceof MemoryLimitError) &&
      /memory 0 is shared/.test(err.message),
  );
  const memory64 = await watWith(`(module (memory i64 1 2))`, {
    memory64: true,
  });
  assert.throws(
    () => meterFuel(memory64, { memoryLimitPages: 4 }),
    (err) =>
      err instanceof MeterError &&
      /memory 0 is a 64-bit memory/.test(err.message),
  );
  // Without a memory limit they are metered as before.
  assert.ok(meterFuel(shared).length > shared.length);
  assert.ok(meterFuel(memory64).length > memory64.length);
});

Deno.test("meterFuel memoryLimitPages: limit export name, clashes and bad limits", async () => {
  const bytes = await wat(
    `(module (global (export "__limit") i32 (i32.const 0)))`,
  );
  assert.throws(
    () => meterFuel(bytes, { memoryLimitPages: 1 }),
    /already exports "__limit"/,
  );
  // Without a memory limit the name is free.
  assert.ok(meterFuel(bytes).length > bytes.length);
  const renamed = meterFuel(bytes, {
    memoryLimitPages: 1,
    limitExport: "mem_limit",
  });
  assert.deepEqual(kinds(renamed), [
    "__limit:global",
    "__fuel:global",
    "mem_limit:global",
  ]);
  assert.throws(
    () => meterFuel(bytes, { memoryLimitPages: 1, limitExport: "__fuel" }),
    RangeError,
  );
  for (const bad of [-1, 1.5, 65537, NaN]) {
    assert.throws(
      () => meterFuel(bytes, { memoryLimitPages: bad }),
      RangeError,
      `${bad}`,
    );
  }
  // 0 pages and 65536 pages (4 GiB) are both valid limits.
  const none = instantiate(
    meterFuel(await GROWER("0"), { memoryLimitPages: 0 }),
  );
  (none.__fuel as WebAssembly.Global).value = BIG;
  assert.throws(() => (none.grow as (n: number) => number)(1), isTrap);
  assert.ok(
    WebAssembly.validate(
      meterFuel(await GROWER("1"), { memoryLimitPages: 65536 }) as Uint8Array<
        ArrayBuffer
      >,
    ),
  );
});

Deno.test("formatPages: KiB, MiB and GiB with at most two decimals", () => {
  assert.equal(formatPages(0), "0 KiB");
  assert.equal(formatPages(1), "64 KiB");
  assert.equal(formatPages(15), "960 KiB");
  assert.equal(formatPages(16), "1 MiB");
  assert.equal(formatPages(17), "1.06 MiB");
  assert.equal(formatPages(256), "16 MiB");
  assert.equal(formatPages(300), "18.75 MiB");
  assert.equal(formatPages(16384), "1 GiB");
  assert.equal(formatPages(65536), "4 GiB");
});

/** A module of `n` functions, each `count` tiny loops (`loop i32.const 0 br_if 0 end`). */
function loopBomb(n: number, count: number): Uint8Array {
  const leb = (v: number) => {
    const o: number[] = [];
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      o.push(b);
    } while (v);
    return o;
  };
  const body = [0x00]; // no locals
  for (let i = 0; i < count; i++) {
    body.push(0x03, 0x40, 0x41, 0x00, 0x0d, 0x00, 0x0b);
  }
  body.push(0x0b);
  const code = [...leb(n)];
  for (let f = 0; f < n; f++) code.push(...leb(body.length), ...body);
  const sec = (id: number, p: number[]) => [id, ...leb(p.length), ...p];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...sec(1, [1, 0x60, 0, 0]),
    ...sec(3, [...leb(n), ...Array(n).fill(0)]),
    ...sec(5, [1, 0, 1]),
    ...sec(10, code),
  ]);
}

Deno.test("attack: a module of tiny loops is refused when its metered form would pass maxBytes, before it is built", () => {
  const bytes = loopBomb(4, 2000); // 56 KB, about twelvefold metered
  assert.ok(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>));
  const metered = meterFuel(bytes, { memoryLimitPages: 16, interrupt: true });
  assert.ok(metered.length > 8 * bytes.length, `${metered.length} bytes`);
  assert.throws(
    () =>
      meterFuel(bytes, {
        memoryLimitPages: 16,
        interrupt: true,
        maxBytes: 4 * 1024 * 1024 / 16,
      }),
    (err: unknown) =>
      err instanceof MeterError &&
      err.message ===
        "metered, it would grow past 262144 bytes (a charge for each of its loops and branches); the limit is 262144 bytes",
  );
  assert.equal(MAX_METERED_BYTES, 48 * 1024 * 1024);
  // Under the limit, exactly what it was.
  assert.deepEqual(
    meterFuel(bytes, {
      memoryLimitPages: 16,
      interrupt: true,
      maxBytes: metered.length,
    }),
    metered,
  );
});
