import assert from "node:assert/strict";
import { compileWat, compileWatText } from "../tests/jobicolets/compile_wat.ts";
import { meterFuel, type MeterOptions } from "./fuel_meter.ts";
import {
  type GuestOutcome,
  GuestSetupError,
  WasmGuest,
  type WasmGuestOptions,
} from "./wasm_guest.ts";

const encoder = new TextEncoder();

async function fixture(name: string): Promise<WebAssembly.Module> {
  const bytes = await compileWat(name);
  return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

async function example(file: string): Promise<WebAssembly.Module> {
  const bytes = await Deno.readFile(
    new URL(`../examples/greet/${file}`, import.meta.url),
  );
  return await WebAssembly.compile(bytes);
}

function call(guest: WasmGuest, input: string): GuestOutcome {
  return guest.call(encoder.encode(input));
}

function assertOk(
  out: GuestOutcome,
): asserts out is Extract<GuestOutcome, { ok: true }> {
  assert.equal(out.ok, true, out.ok ? "" : out.reason);
}

Deno.test("WasmGuest: greet.wasm (C, ver 0, WASI) greets and captures env.log and stdout", async () => {
  const guest = await WasmGuest.create(await example("greet.wasm"));
  assert.equal(guest.ver, 0);
  const out = call(guest, '{"name":"Ada"}');
  assertOk(out);
  assert.equal(out.code, 0n);
  assert.equal(out.result, '{"greeting":"Hello, Ada!"}');
  assert.deepEqual(out.logs, [
    { level: 1, source: "module", message: "greeting Ada" },
    { level: 1, source: "stdout", message: "greet: handled Ada" },
  ]);
  assert.equal(guest.broken, false);
});

Deno.test("WasmGuest: greet.wasm error codes are kept with their message", async () => {
  const guest = await WasmGuest.create(await example("greet.wasm"));

  const blocked = call(guest, '{"name":"Voldemort"}');
  assertOk(blocked);
  assert.equal(blocked.code, 1n);
  assert.equal(
    blocked.result,
    "no greeting for Voldemort: name is on the block list",
  );

  const missing = call(guest, '{"nom":"Ada"}');
  assertOk(missing);
  assert.equal(missing.code, 2n);
  assert.equal(missing.result, "missing name");
  assert.deepEqual(missing.logs, [
    { level: 2, source: "module", message: "greet: missing name" },
  ]);
  assert.equal(guest.broken, false);
});

Deno.test("WasmGuest: one greet.wasm instance serves 1000 calls correctly", async () => {
  const guest = await WasmGuest.create(await example("greet.wasm"));
  for (let i = 0; i < 1000; i++) {
    const name = `user-${i}-${"x".repeat(i % 50)}`;
    const out = call(guest, JSON.stringify({ name, n: i }));
    assertOk(out);
    assert.equal(out.code, 0n);
    assert.deepEqual(JSON.parse(out.result), { greeting: `Hello, ${name}!` });
    // Each call gets only its own logs.
    assert.deepEqual(out.logs.map((l) => l.message), [
      `greeting ${name}`,
      `greet: handled ${name}`,
    ]);
  }
  assert.equal(guest.broken, false);
});

Deno.test("WasmGuest: greet.wasm escapes unicode and control characters", async () => {
  const guest = await WasmGuest.create(await example("greet.wasm"));
  const name = 'Zoë "the 🦀" \\ Ünïcødé\ttab';
  const out = call(guest, JSON.stringify({ name }));
  assertOk(out);
  assert.equal(out.code, 0n);
  assert.deepEqual(JSON.parse(out.result), { greeting: `Hello, ${name}!` });
});

Deno.test("WasmGuest: audit.wasm (AssemblyScript, ver 1)", async () => {
  const guest = await WasmGuest.create(await example("audit.wasm"));
  assert.equal(guest.ver, 1);
  const input = '{"greeting":"Hello, Ada!"}';
  for (let i = 0; i < 3; i++) {
    const out = call(guest, input);
    assertOk(out);
    assert.equal(out.code, 0n);
    assert.equal(out.result, `{"audited":${input.length}}`);
    // ver 1 frees with (ptr, size): no free trapped, so no host warnings.
    assert.deepEqual(out.logs, [
      { level: 1, source: "module", message: `audit: ${input}` },
    ]);
  }
  const empty = guest.call(new Uint8Array());
  assertOk(empty);
  assert.equal(empty.result, '{"audited":0}');
});

Deno.test("WasmGuest: error.wat reports code 7 and 'bad input' (no ver export means ver 0)", async () => {
  const guest = await WasmGuest.create(await fixture("error"));
  assert.equal(guest.ver, 0);
  const out = call(guest, "anything");
  assertOk(out);
  assert.equal(out.code, 7n);
  assert.equal(out.result, "bad input");
  assert.deepEqual(out.logs, []);
  assert.equal(guest.broken, false);
});

Deno.test("WasmGuest: trap.wat fails the call, keeps the logs and breaks the instance", async () => {
  const module = await fixture("trap");
  const guest = await WasmGuest.create(module);
  assert.equal(guest.ver, 1);
  const out = call(guest, "{}");
  assert.equal(out.ok, false);
  assert.ok(!out.ok);
  assert.match(out.reason, /^trap:/);
  assert.deepEqual(out.logs, [
    { level: 1, source: "module", message: "about to trap" },
  ]);
  assert.equal(guest.broken, true);

  // A broken instance refuses further calls without running the guest.
  const again = call(guest, "{}");
  assert.equal(again.ok, false);
  assert.ok(!again.ok);
  assert.match(again.reason, /broken/);
  assert.deepEqual(again.logs, []);

  // A fresh instance of the same module is usable (and fails the same way).
  const fresh = await WasmGuest.create(module);
  assert.equal(fresh.broken, false);
  const third = call(fresh, "{}");
  assert.ok(!third.ok);
  assert.match(third.reason, /^trap:/);
});

Deno.test("WasmGuest: a trap in free (trapping_free.wat) is only a host warning", async () => {
  const guest = await WasmGuest.create(await fixture("trapping_free"));
  assert.equal(guest.ver, 1);
  for (const input of ["first", "second"]) {
    const out = call(guest, input);
    assertOk(out);
    assert.equal(out.code, 0n);
    assert.equal(out.result, input);
    // free(result), free(res), free(in): each trapped.
    assert.equal(out.logs.length, 3);
    for (const log of out.logs) {
      assert.equal(log.source, "host");
      assert.equal(log.level, 2);
      assert.match(log.message, /^free\(\d+\) trapped: trap:/);
    }
    assert.equal(guest.broken, false);
  }
});

Deno.test("WasmGuest: env.log with an out-of-bounds range (bad_log.wat) is a host warning", async () => {
  const guest = await WasmGuest.create(await fixture("bad_log"));
  const out = call(guest, "x");
  assertOk(out);
  assert.equal(out.code, 0n);
  assert.equal(out.result, "still fine");
  assert.equal(out.logs.length, 1);
  assert.equal(out.logs[0].source, "host");
  assert.equal(out.logs[0].level, 2);
  // ptr 0xFFFFFFF0 read as unsigned, len 100.
  assert.match(out.logs[0].message, /4294967280\+100/);
  assert.equal(guest.broken, false);
});

Deno.test("WasmGuest: echo.wat proves _start runs before init", async () => {
  // echo.wat's init traps unless _start ran first: create() would throw.
  const guest = await WasmGuest.create(await fixture("echo"));
  const out = call(guest, "ping");
  assertOk(out);
  assert.equal(out.code, 0n);
  assert.equal(out.result, "ping");
  assert.deepEqual(out.logs, []);
});

Deno.test("WasmGuest: unicode and odd bytes round trip through echo.wat", async () => {
  const guest = await WasmGuest.create(await fixture("echo"));
  for (
    const input of [
      "héllo, 世界 🌍",
      "line one\nline two\r\n",
      "nul\u0000inside",
      "",
      "🦀".repeat(20_000), // 80 000 bytes: the bump allocator grows memory
    ]
  ) {
    const out = call(guest, input);
    assertOk(out);
    assert.equal(out.code, 0n);
    assert.equal(out.result, input);
  }
});

Deno.test("WasmGuest: wasi_echo.wat stdout and stderr become log lines", async () => {
  const guest = await WasmGuest.create(await fixture("wasi_echo"));
  const out = call(guest, "{}");
  assertOk(out);
  assert.equal(out.code, 0n);
  assert.equal(out.result, "ok");
  assert.deepEqual(out.logs, [
    { level: 1, source: "stdout", message: "to stdout" },
    { level: 3, source: "stderr", message: "to stderr" },
  ]);
  // The next call starts with an empty capture.
  const second = call(guest, "{}");
  assertOk(second);
  assert.equal(second.logs.length, 2);
});

Deno.test("WasmGuest: maxLogBytes truncates long log lines", async () => {
  const guest = await WasmGuest.create(await example("greet.wasm"), {
    maxLogBytes: 12,
  });
  const name = "A".repeat(100);
  const out = call(guest, JSON.stringify({ name }));
  assertOk(out);
  assert.deepEqual(JSON.parse(out.result), { greeting: `Hello, ${name}!` });
  const moduleLog = out.logs.find((l) => l.source === "module");
  // "greeting " + 100 bytes = 109 bytes, 12 kept.
  assert.equal(moduleLog?.message, "greeting AAA [truncated 97 bytes]");
  const stdoutLog = out.logs.find((l) => l.source === "stdout");
  assert.equal(stdoutLog?.message, "greet: handl");
});

Deno.test("WasmGuest: a missing main function is a GuestSetupError naming it", async () => {
  const module = await fixture("echo");
  await assert.rejects(
    () => WasmGuest.create(module, { mainFunction: "nope" }),
    (err: unknown) => {
      assert.ok(err instanceof GuestSetupError);
      assert.match(err.message, /"nope"/);
      return true;
    },
  );
  // The default main function name is "event".
  const guest = await WasmGuest.create(module, { mainFunction: "event" });
  assert.equal(call(guest, "e").ok, true);
});

const BUDGET = 10n ** 12n;

/** A fixture metered with `meter`, compiled. */
async function metered(
  name: string,
  meter: MeterOptions,
): Promise<WebAssembly.Module> {
  const bytes = meterFuel(await compileWat(name), meter);
  return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

async function inline(text: string): Promise<WebAssembly.Module> {
  const bytes = await compileWatText("inline.wat", text);
  return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

function assertFailed(
  out: GuestOutcome,
): asserts out is Extract<GuestOutcome, { ok: false }> {
  assert.equal(out.ok, false, "the call should fail");
}

Deno.test("WasmGuest: memory_bomb.wat past the memory limit fails with 'memory limit exceeded'", async () => {
  const opts: WasmGuestOptions = { fuel: BUDGET, memoryLimitPages: 256 };
  const guest = await WasmGuest.create(
    await metered("memory_bomb", { memoryLimitPages: 256 }),
    opts,
  );
  const out = call(guest, "{}");
  assertFailed(out);
  assert.equal(
    out.reason,
    "memory limit exceeded: the module tried to grow its memory past 16 MiB",
  );
  assert.deepEqual(out.logs, [
    { level: 1, source: "module", message: "growing" },
  ]);
  assert.equal(guest.broken, true);
  const again = call(guest, "{}");
  assertFailed(again);
  assert.match(again.reason, /broken/);

  // Other limits and export names; the MiB are formatted sensibly.
  const odd = await WasmGuest.create(
    await metered("memory_bomb", {
      memoryLimitPages: 300,
      limitExport: "mem_cap",
    }),
    { fuel: BUDGET, memoryLimitPages: 300, limitExport: "mem_cap" },
  );
  const out2 = call(odd, "{}");
  assertFailed(out2);
  assert.equal(
    out2.reason,
    "memory limit exceeded: the module tried to grow its memory past 18.75 MiB",
  );

  // Without memoryLimitPages the guest does not look at the global: a trap.
  const blind = await WasmGuest.create(
    await metered("memory_bomb", { memoryLimitPages: 256 }),
    { fuel: BUDGET },
  );
  const out3 = call(blind, "{}");
  assertFailed(out3);
  assert.equal(out3.reason, "trap: unreachable");
});

Deno.test("WasmGuest: with a memory limit, fuel exhaustion and a module's own maximum keep their outcomes", async () => {
  const meter = { memoryLimitPages: 256 };
  const opts = { fuel: 100_000n, memoryLimitPages: 256 };
  const spin = await WasmGuest.create(await metered("spin", meter), opts);
  const out = call(spin, "{}");
  assertFailed(out);
  assert.equal(
    out.reason,
    "fuel exhausted: the module ran more than 100000 instructions",
  );

  // grow.wat stops at its own maximum (16 pages, below the limit): -1 and
  // code 3, a successful call.
  const grow = await WasmGuest.create(await metered("grow", meter), opts);
  const out2 = call(grow, "{}");
  assertOk(out2);
  assert.equal(out2.code, 3n);
  assert.equal(grow.broken, false);

  // greet.wasm works as before under the limit.
  const bytes = await Deno.readFile(
    new URL("../examples/greet/greet.wasm", import.meta.url),
  );
  const greet = await WasmGuest.create(
    await WebAssembly.compile(
      meterFuel(bytes, meter) as Uint8Array<ArrayBuffer>,
    ),
    opts,
  );
  const out3 = call(greet, '{"name":"Ada"}');
  assertOk(out3);
  assert.equal(out3.result, '{"greeting":"Hello, Ada!"}');
});

Deno.test("WasmGuest: a memory limit hit during start-up is a GuestSetupError saying so", async () => {
  const bytes = await compileWatText(
    "inline.wat",
    `(module
      (memory (export "memory") 1)
      (func (export "malloc") (param i32) (result i32) (i32.const 1024))
      (func (export "free") (param i32))
      (func (export "event") (param i32 i32 i32))
      (func (export "init") (drop (memory.grow (i32.const 100)))))`,
  );
  const limited = await WebAssembly.compile(
    meterFuel(bytes, { memoryLimitPages: 64 }) as Uint8Array<ArrayBuffer>,
  );
  await assert.rejects(
    () => WasmGuest.create(limited, { fuel: BUDGET, memoryLimitPages: 64 }),
    (err: unknown) => {
      assert.ok(err instanceof GuestSetupError);
      assert.equal(
        err.message,
        "Module start-up trapped: memory limit exceeded: " +
          "the module tried to grow its memory past 4 MiB",
      );
      return true;
    },
  );
  // Unlimited, the same module starts.
  const plain = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  assert.equal((await WasmGuest.create(plain)).broken, false);
});

Deno.test("WasmGuest: a memory limit hit in free is a warning and does not taint the next call", async () => {
  // free grows memory past the limit; event traps when its input is "boom".
  const bytes = meterFuel(
    await compileWatText(
      "inline.wat",
      `(module
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "malloc") (param $n i32) (result i32)
      (global.get $heap)
      (global.set $heap (i32.add (global.get $heap) (i32.const 64))))
    (func (export "free") (param i32) (drop (memory.grow (i32.const 1000))))
    (func (export "init"))
    (func (export "event") (param $ret i32) (param $in i32) (param $len i32)
      (if (i32.eq (i32.load8_u (local.get $in)) (i32.const 98)) ;; "b"
        (then unreachable))
      (i64.store (local.get $ret) (i64.const 0))
      (i64.store offset=8 (local.get $ret) (i64.const 0))))`,
    ),
    { memoryLimitPages: 4 },
  );
  const guest = await WasmGuest.create(
    await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>),
    { fuel: BUDGET, memoryLimitPages: 4 },
  );
  const first = call(guest, "ok");
  assertOk(first);
  assert.equal(first.logs.length, 2); // free(res), free(in)
  for (const log of first.logs) {
    assert.match(
      log.message,
      /^free\(\d+\) trapped: memory limit exceeded: .* past 256 KiB$/,
    );
  }
  assert.equal(guest.broken, false);
  const second = call(guest, "boom");
  assertFailed(second);
  assert.equal(second.reason, "trap: unreachable");
});

Deno.test("WasmGuest: recurse.wat is a stack overflow and breaks the instance", async () => {
  for (
    const [module, opts] of [
      [await fixture("recurse"), {}],
      [
        await metered("recurse", { memoryLimitPages: 16 }),
        { fuel: BUDGET, memoryLimitPages: 16 },
      ],
    ] as const
  ) {
    const guest = await WasmGuest.create(module, opts);
    const out = call(guest, "{}");
    assertFailed(out);
    assert.match(out.reason, /^stack overflow/);
    assert.equal(
      out.reason,
      "stack overflow: the module's calls nested too deeply",
    );
    assert.equal(guest.broken, true);
    const again = call(guest, "{}");
    assertFailed(again);
    assert.match(again.reason, /broken/);
  }
});

Deno.test("WasmGuest: a missing import is a GuestSetupError naming it", async () => {
  const exports = `(memory (export "memory") 1)
    (func (export "malloc") (param i32) (result i32) (i32.const 1024))
    (func (export "free") (param i32))
    (func (export "event") (param i32 i32 i32))
    (func (export "init"))`;
  const cases: [string, string][] = [
    [
      `(import "wasi_snapshot_preview1" "sock_open" (func (param i32) (result i32)))`,
      `the module imports "wasi_snapshot_preview1"."sock_open", which is not provided`,
    ],
    [
      `(import "other" "thing" (func))`,
      `the module imports "other"."thing", which is not provided`,
    ],
    [
      `(import "env" "log" (func (param i32 i32 i32)))
       (import "env" "abort" (func))
       (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
       (import "wasi_snapshot_preview1" "sock_connect" (func))`,
      `the module imports "env"."abort" and "wasi_snapshot_preview1"."sock_connect", which are not provided`,
    ],
    [
      `(import "a" "1" (func)) (import "a" "2" (func)) (import "a" "3" (func))
       (import "a" "4" (func)) (import "a" "5" (func))`,
      `the module imports "a"."1", "a"."2", "a"."3" and 2 more, which are not provided`,
    ],
  ];
  for (const [imports, message] of cases) {
    const module = await inline(`(module ${imports} ${exports})`);
    await assert.rejects(
      () => WasmGuest.create(module),
      (err: unknown) => {
        assert.ok(err instanceof GuestSetupError);
        assert.equal(
          err.message,
          `Instantiating the module failed: ${message}`,
        );
        return true;
      },
    );
  }
  // Provided imports of the wrong type still fail with the engine's message.
  const wrong = await inline(
    `(module (import "env" "log" (global i32)) ${exports})`,
  );
  await assert.rejects(
    () => WasmGuest.create(wrong),
    (err: unknown) =>
      err instanceof GuestSetupError &&
      /^Instantiating the module failed: .*"env" "log"/.test(err.message),
  );
});
