import assert from "node:assert/strict";
import process from "node:process";
import { compileWat, compileWatText } from "./_test_wat.ts";
import { meterFuel, type MeterOptions } from "./fuel_meter.ts";
import {
  formatImportList,
  type GuestOutcome,
  GuestSetupError,
  unprovidedImports,
  WasmGuest,
  type WasmGuestOptions,
} from "./wasm_guest.ts";
import { WasmPool } from "./wasm_pool.ts";

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
    "memory limit exceeded: the module tried to grow its memory or tables past 16 MiB",
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
    "memory limit exceeded: the module tried to grow its memory or tables past 18.75 MiB",
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
          "the module tried to grow its memory or tables past 4 MiB",
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
       (import "a" "4" (func)) (import "a" "5" (func)) (import "a" "6" (func))
       (import "a" "7" (func))`,
      `the module imports "a"."1", "a"."2", "a"."3", "a"."4", "a"."5" and 2 more, which are not provided`,
    ],
    [
      // Only functions are provided: a provided name of another kind is not.
      `(import "env" "log" (global i32))
       (import "wasi_snapshot_preview1" "fd_write" (table 1 funcref))`,
      `the module imports "env"."log" (a global) and "wasi_snapshot_preview1"."fd_write" (a table), which are not provided`,
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
});

Deno.test("WasmGuest: sandbox_probe.wat sees no environment, no arguments, no preopened directory and opens no file", async () => {
  const guest = await WasmGuest.create(await fixture("sandbox_probe"));
  const out = call(guest, "{}");
  assertOk(out);
  assert.equal(out.code, 0n);
  // 8 is ERRNO_BADF: there is no fd 3 to find or to open a path under.
  assert.equal(out.result, "environ=0 args=0 prestat=8 open=8");
  assert.deepEqual(out.logs, []);
});

Deno.test("WasmGuest: sandbox_probe.wat sees the same inside a WasmPool's permission-less Worker", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    const r = await pool.run({
      key: "probe",
      module: await metered("sandbox_probe", {}),
      guest: { fuel: BUDGET },
      input: encoder.encode("{}"),
      timeoutMs: 10_000,
    });
    assert.equal(r.timedOut, false);
    assertOk(r.outcome);
    assert.equal(r.outcome.result, "environ=0 args=0 prestat=8 open=8");
  } finally {
    pool.close();
  }
});

/** CPU time (user + system) the whole process used while `work` ran, and its wall time, in ms. */
async function measure<T>(
  work: () => T | Promise<T>,
): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const CUT_SHORT = {
  level: 2,
  source: "host",
  message:
    "Sleeps in poll_oneoff were cut short at 100 ms, the most a call may sleep",
};

Deno.test("WasmGuest: sleeper.wat's 60 s sleeps end at maxSleepMs, once warned, without burning CPU", async () => {
  const guest = await WasmGuest.create(await metered("sleeper", {}), {
    fuel: BUDGET,
    maxSleepMs: 100,
  });
  // Three calls: the budget is per call, so each sleeps ~100 ms again.
  const { value: outs, wallMs, cpuMs } = await measure(() =>
    [1, 2, 3].map(() => guest.call(new Uint8Array()))
  );
  for (const out of outs) {
    assertOk(out);
    // Both poll_oneoff calls succeeded and wrote their event.
    assert.equal(out.code, 0n);
    assert.equal(out.result, "errno=0 error=0 type=0 userdata=4660 nevents=1");
    // The second sleep of the call returned at once: one warning per call.
    assert.deepEqual(out.logs, [CUT_SHORT]);
  }
  assert.ok(wallMs < 5_000, `3 calls took ${wallMs} ms`);
  assert.ok(wallMs >= 3 * 90, `3 calls took only ${wallMs} ms`);
  // Atomics.wait blocks the thread: the process hardly used the CPU.
  assert.ok(
    cpuMs < 0.5 * wallMs,
    `${cpuMs.toFixed(1)} ms of CPU in ${wallMs.toFixed(1)} ms of sleep`,
  );
  assert.equal(guest.broken, false);
});

Deno.test("WasmGuest: sleeper.wat in a WasmPool Worker sleeps without burning CPU too", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    const module = await metered("sleeper", {});
    const run = () =>
      pool.run({
        key: "sleeper",
        module,
        guest: { fuel: BUDGET, maxSleepMs: 100 },
        input: new Uint8Array(),
        timeoutMs: 10_000,
      });
    await run(); // starts the Worker
    const { value: r, wallMs, cpuMs } = await measure(run);
    assert.equal(r.timedOut, false);
    assertOk(r.outcome);
    assert.equal(
      r.outcome.result,
      "errno=0 error=0 type=0 userdata=4660 nevents=1",
    );
    assert.deepEqual(r.outcome.logs, [CUT_SHORT]);
    assert.ok(wallMs >= 90 && wallMs < 5_000, `${wallMs} ms`);
    assert.ok(
      cpuMs < 0.5 * wallMs,
      `${cpuMs.toFixed(1)} ms of CPU in ${wallMs.toFixed(1)} ms of sleep`,
    );
  } finally {
    pool.close();
  }
});

/** A WASI subscription (48 bytes); a clock one unless `type` says otherwise. */
function subscription(s: {
  userdata?: bigint;
  type?: number;
  clock?: number;
  timeoutNs: bigint;
  absolute?: boolean;
}): Uint8Array {
  const bytes = new Uint8Array(48);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, s.userdata ?? 7n, true);
  view.setUint8(8, s.type ?? 0);
  view.setUint32(16, s.clock ?? 1, true);
  view.setBigUint64(24, s.timeoutNs, true);
  view.setUint16(40, s.absolute ? 1 : 0, true);
  return bytes;
}

const MS = 1_000_000n;

Deno.test("WasmGuest: poll_oneoff sleeps relative or absolute, monotonic or realtime, and refuses the rest like the shim", async () => {
  const guest = await WasmGuest.create(await fixture("sleeper"), {
    maxSleepMs: 1_000,
  });
  const poll = (input: Uint8Array) => {
    const t0 = performance.now();
    const out = guest.call(input);
    assertOk(out);
    return { out, ms: performance.now() - t0 };
  };
  const woke = (userdata: number) =>
    `errno=0 error=0 type=0 userdata=${userdata} nevents=1`;

  const relative = poll(subscription({ userdata: 1n, timeoutNs: 30n * MS }));
  assert.equal(relative.out.result, woke(1));
  assert.ok(relative.ms >= 25, `${relative.ms} ms`);

  const monotonicAt = BigInt(Math.round((performance.now() + 30) * 1e6));
  const absolute = poll(
    subscription({ userdata: 2n, timeoutNs: monotonicAt, absolute: true }),
  );
  assert.equal(absolute.out.result, woke(2));
  assert.ok(absolute.ms >= 20 && absolute.ms < 1_000, `${absolute.ms} ms`);

  const realtimeAt = BigInt(Date.now() + 30) * MS;
  const realtime = poll(
    subscription({
      userdata: 3n,
      clock: 0,
      timeoutNs: realtimeAt,
      absolute: true,
    }),
  );
  assert.equal(realtime.out.result, woke(3));
  assert.ok(realtime.ms >= 20 && realtime.ms < 1_000, `${realtime.ms} ms`);

  // A deadline in the past (absolute realtime 1970 + 1 s) wakes at once.
  const past = poll(
    subscription({
      userdata: 4n,
      clock: 0,
      timeoutNs: 1_000n * MS,
      absolute: true,
    }),
  );
  assert.equal(past.out.result, woke(4));
  assert.ok(past.ms < 500, `${past.ms} ms`);
  // None of these came near the budget.
  for (const r of [relative, absolute, realtime, past]) {
    assert.deepEqual(r.out.logs, []);
  }

  // The shim's errnos: 28 EINVAL, 58 ENOTSUP. Nothing is written.
  const untouched =
    "error=65535 type=255 userdata=4294967295 nevents=4294967295";
  const one = subscription({ timeoutNs: MS });
  const refused: [string, Uint8Array, number][] = [
    ["no subscription", new Uint8Array(1), 28],
    ["two subscriptions", new Uint8Array([...one, ...one]), 58],
    ["an fd_read subscription", subscription({ type: 1, timeoutNs: 0n }), 58],
    ["the process CPU clock", subscription({ clock: 2, timeoutNs: MS }), 28],
  ];
  for (const [what, input, errno] of refused) {
    const { out } = poll(input);
    assert.equal(out.code, BigInt(errno), what);
    assert.equal(out.result, `errno=${errno} ${untouched}`, what);
  }
});

Deno.test("WasmGuest: maxSleepMs 0 makes every sleep return at once, with the warning", async () => {
  const guest = await WasmGuest.create(await fixture("sleeper"), {
    maxSleepMs: 0,
  });
  const t0 = performance.now();
  const out = call(guest, "");
  assertOk(out);
  assert.ok(performance.now() - t0 < 1_000);
  assert.equal(out.result, "errno=0 error=0 type=0 userdata=4660 nevents=1");
  assert.deepEqual(out.logs, [{
    ...CUT_SHORT,
    message: CUT_SHORT.message.replace("100 ms", "0 ms"),
  }]);
  const sleeper = await fixture("sleeper");
  for (const maxSleepMs of [-1, NaN]) {
    await assert.rejects(
      () => WasmGuest.create(sleeper, { maxSleepMs }),
      RangeError,
    );
  }
});

Deno.test("WasmGuest: socket calls (sockets.wat) get an errno, not a host failure", async () => {
  const guest = await WasmGuest.create(await fixture("sockets"));
  const out = call(guest, "{}");
  assertOk(out);
  assert.equal(out.code, 0n);
  // 8 EBADF for fds that are not open, 58 ENOTSUP for stdin/stdout/stderr.
  assert.equal(
    out.result,
    "recv(3)=8 recv(0)=58 send(1)=58 shutdown(2)=58 accept(5)=8",
  );
  assert.equal(guest.broken, false);
});

Deno.test("WasmGuest: proc_raise fails the call with a clear reason", async () => {
  const guest = await WasmGuest.create(await fixture("sockets"));
  const out = call(guest, "raise");
  assertFailed(out);
  assert.equal(out.reason, "the module called proc_raise(6) to raise SIGABRT");
  assert.equal(guest.broken, true);
});

Deno.test("WasmGuest: modules importing what the host lacks (sock_open.wat, env_system.wat) fail to start naming the import", async () => {
  for (
    const [name, imported] of [
      ["sock_open", `"wasi_snapshot_preview1"."sock_open"`],
      ["env_system", `"env"."system"`],
    ]
  ) {
    const module = await fixture(name);
    assert.deepEqual(unprovidedImports(module), [imported]);
    await assert.rejects(
      () => WasmGuest.create(module),
      (err: unknown) => {
        assert.ok(err instanceof GuestSetupError);
        assert.equal(
          err.message,
          `Instantiating the module failed: the module imports ${imported}, which is not provided`,
        );
        return true;
      },
    );
  }
});

Deno.test("unprovidedImports: env.log and every WASI preview 1 function are provided, nothing else", async () => {
  assert.deepEqual(unprovidedImports(await example("greet.wasm")), []);
  assert.deepEqual(unprovidedImports(await example("audit.wasm")), []);
  for (const name of ["sandbox_probe", "sleeper", "sockets", "wasi_echo"]) {
    assert.deepEqual(unprovidedImports(await fixture(name)), [], name);
  }
  // The 46 functions of wasi_snapshot_preview1.
  const preview1 = [
    "args_get args_sizes_get environ_get environ_sizes_get clock_res_get",
    "clock_time_get fd_advise fd_allocate fd_close fd_datasync fd_fdstat_get",
    "fd_fdstat_set_flags fd_fdstat_set_rights fd_filestat_get",
    "fd_filestat_set_size fd_filestat_set_times fd_pread fd_prestat_get",
    "fd_prestat_dir_name fd_pwrite fd_read fd_readdir fd_renumber fd_seek",
    "fd_sync fd_tell fd_write path_create_directory path_filestat_get",
    "path_filestat_set_times path_link path_open path_readlink",
    "path_remove_directory path_rename path_symlink path_unlink_file",
    "poll_oneoff proc_exit proc_raise sched_yield random_get sock_accept",
    "sock_recv sock_send sock_shutdown",
  ].join(" ").split(" ");
  assert.equal(preview1.length, 46);
  const all = await inline(`(module
    (import "env" "log" (func))
    ${
    preview1.map((n) => `(import "wasi_snapshot_preview1" "${n}" (func))`)
      .join("\n")
  })`);
  assert.deepEqual(unprovidedImports(all), []);

  const odd = await inline(`(module
    (import "env" "abort" (func))
    (import "wasi_unstable" "fd_write" (func))
    (import "wasi_snapshot_preview1" "sock_open" (func))
    (import "env" "memory" (memory 1))
    (import "env" "table" (table 1 funcref))
    (import "env" "log" (global i32)))`);
  assert.deepEqual(unprovidedImports(odd), [
    `"env"."abort"`,
    `"wasi_unstable"."fd_write"`,
    `"wasi_snapshot_preview1"."sock_open"`,
    `"env"."memory" (a memory)`,
    `"env"."table" (a table)`,
    `"env"."log" (a global)`,
  ]);
});

Deno.test("formatImportList: lists up to max names, then how many more", () => {
  assert.equal(formatImportList([]), "");
  assert.equal(formatImportList(["a"]), "a");
  assert.equal(formatImportList(["a", "b"]), "a and b");
  assert.equal(formatImportList(["a", "b", "c"]), "a, b and c");
  const seven = ["a", "b", "c", "d", "e", "f", "g"];
  assert.equal(formatImportList(seven), "a, b, c, d, e and 2 more");
  assert.equal(formatImportList(seven, 2), "a, b and 5 more");
});

/** A module whose start function sets what `ver` returns to 1 (free(ptr, len)), and whose event returns `len` bytes of 0x61 from offset 64. */
const START_SETS_VER = `(module
  (global $v (mut i32) (i32.const 0))
  (global $freed (mut i32) (i32.const -1))
  (func $s (global.set $v (i32.const 1)))
  (start $s)
  (memory (export "memory") 32)
  (func (export "malloc") (param i32) (result i32) (i32.const 16))
  (func (export "free") (param i32 i32) (global.set $freed (local.get 1)))
  (func (export "init"))
  (func (export "ver") (result i32) (global.get $v))
  (func (export "freed") (result i32) (global.get $freed))
  (func (export "event") (param $ret i32) (param $in i32) (param $len i32)
    (local $n i32)
    ;; the input is the result's length, as 4 little-endian bytes
    (local.set $n (i32.load (local.get $in)))
    (memory.fill (i32.const 64) (i32.const 0x61) (local.get $n))
    (i64.store (local.get $ret) (i64.const 0))
    (i64.store offset=8 (local.get $ret)
      (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.extend_i32_u (local.get $n))))))`;

function lengthInput(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

Deno.test("WasmGuest: ver is read after the start function, metered or not (the meter moves it to __start)", async () => {
  const bytes = await compileWatText("start_ver.wat", START_SETS_VER);
  for (const metered of [false, true]) {
    const b = metered
      ? meterFuel(bytes, { memoryLimitPages: 2048, interrupt: true })
      : bytes;
    const guest = await WasmGuest.create(
      await WebAssembly.compile(b as Uint8Array<ArrayBuffer>),
      { fuel: 1_000_000n, memoryLimitPages: 2048 },
    );
    assert.equal(guest.ver, 1, `metered: ${metered}`);
  }
});

Deno.test("attack: a result of the whole memory is decoded only up to maxResultBytes, and says how much was cut", async () => {
  const module = await WebAssembly.compile(
    await compileWatText("start_ver.wat", START_SETS_VER) as Uint8Array<
      ArrayBuffer
    >,
  );
  const size = 32 * 65536 - 64;
  // The default: 1 MiB.
  const guest = await WasmGuest.create(module);
  const out = guest.call(lengthInput(size));
  assertOk(out);
  const cut = size - 1024 * 1024;
  assert.equal(
    out.result.length,
    1024 * 1024 + `... [truncated ${cut} bytes]`.length,
  );
  assert.ok(out.result.endsWith(`a... [truncated ${cut} bytes]`));
  // An explicit limit; a result within it is whole.
  const small = await WasmGuest.create(module, { maxResultBytes: 10 });
  const cutOut = small.call(lengthInput(12));
  assertOk(cutOut);
  assert.equal(cutOut.result, "aaaaaaaaaa... [truncated 2 bytes]");
  const whole = small.call(lengthInput(10));
  assertOk(whole);
  assert.equal(whole.result, "aaaaaaaaaa");
});

Deno.test("WasmGuest: proc_exit's code is shown unsigned, as WASI defines it", async () => {
  const bytes = await compileWatText(
    "exit.wat",
    `(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "malloc") (param i32) (result i32) (i32.const 16))
      (func (export "free") (param i32))
      (func (export "init"))
      (func (export "event") (param i32 i32 i32) (call $exit (i32.const -1))))`,
  );
  const guest = await WasmGuest.create(
    await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>),
  );
  const out = guest.call(new Uint8Array());
  assert.equal(out.ok, false);
  assert.equal(
    !out.ok && out.reason,
    "the module called proc_exit(4294967295)",
  );
});

Deno.test("attack: a jobico.memory section the module brings is dropped by the meter; the host makes the memory the module declared", async () => {
  const bytes = await compileWatText(
    "own_section.wat",
    `(module
      (memory (export "memory") 1)
      (func (export "malloc") (param i32) (result i32) (i32.const 16))
      (func (export "free") (param i32))
      (func (export "init"))
      (func (export "event") (param i32 i32 i32)))`,
  );
  // A custom section: id 0, size, name, payload.
  const text = new TextEncoder();
  const name = text.encode("jobico.memory");
  const payload = text.encode('{"initial":2048,"maximum":2048}');
  const body = [name.length, ...name, ...payload];
  const forged = new Uint8Array([...bytes, 0, body.length, ...body]);
  assert.ok(body.length < 128); // one-byte sizes above
  const metered = meterFuel(forged, {
    memoryLimitPages: 2048,
    interrupt: true,
  });
  const module = await WebAssembly.compile(metered as Uint8Array<ArrayBuffer>);
  assert.equal(
    WebAssembly.Module.customSections(module, "jobico.memory").length,
    1,
  );
  const guest = await WasmGuest.create(module, {
    fuel: 1_000_000n,
    memoryLimitPages: 2048,
  });
  assert.equal(guest.memoryBytes, 65536);
});
