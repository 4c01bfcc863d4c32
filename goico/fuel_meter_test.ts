import assert from "node:assert/strict";
import { WASI } from "@bjorn3/browser_wasi_shim";
import { compileWat, compileWatText } from "../tests/jobicolets/compile_wat.ts";
import { MeterError, meterFuel } from "./fuel_meter.ts";

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

  // echo copies its input with one memory.copy: bulk memory instructions
  // count as one instruction, whatever their size.
  const echo = new Guest(meterFuel(await compileWat("echo")));
  const e1 = echo.call("abcdefghij");
  const e10 = echo.call("abcdefghij".repeat(10));
  assert.equal(e10.result, "abcdefghij".repeat(10));
  assert.ok(e1.used! > 0n);
  assert.equal(e10.used, e1.used);
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
