import assert from "node:assert/strict";
import { compileWat } from "../tests/jobicolets/compile_wat.ts";
import { type GuestOutcome, GuestSetupError, WasmGuest } from "./wasm_guest.ts";

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
