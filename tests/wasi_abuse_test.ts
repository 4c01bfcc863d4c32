/**
 * A module that hands the host ranges it should not trust: iovec arrays over
 * the whole memory, paths the size of the memory, pointers past its end,
 * negative offsets, a million bad log calls. Under the default limits each
 * answers an errno (or one counted warning) and costs the host nothing in
 * proportion. Before: one `fd_read` over a 128 MiB memory's worth of zero
 * iovecs ran 31 s on the host for 37 units of fuel and took 1.2 GB (over a
 * 1 GiB memory it ran the process out of memory); a million bad `env.log`
 * calls kept a million warnings (gigabytes, sent on to the main isolate).
 */
import assert from "node:assert/strict";
import { compileWat, compileWatText } from "./jobicolets/compile_wat.ts";
import { meterFuel, WasmGuest, WasmPool } from "@jobico/goico";
import { testPlatform } from "../components/server/_test_platform.ts";

const ERRNO = { SUCCESS: 0, BADF: 8, FAULT: 21, NOTDIR: 54, SPIPE: 70 };

/** Metered as the platform meters an upload, under the default limits. */
async function module(): Promise<WebAssembly.Module> {
  const bytes = meterFuel(await compileWat("wasi_abuse"), {
    memoryLimitPages: 128 * 16,
    interrupt: true,
  });
  return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

/** The four errnos a function of wasi_abuse.wat packed into its code. */
function errnos(code: bigint): number[] {
  const c = Number(code);
  return [c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff, c >>> 24];
}

async function call(main: string) {
  const g = await WasmGuest.create(await module(), {
    mainFunction: main,
    fuel: 1_000_000_000n,
  });
  const out = g.call(new Uint8Array());
  assert.ok(out.ok, out.ok ? "" : out.reason);
  return out;
}

Deno.test("attack: fd_read over 16 million iovecs reads nothing and looks at none; ranges outside memory are EFAULT, stdout EBADF", async () => {
  const out = await call("read_all");
  // Success with 0 bytes read (the count at 32 was set to 0: no high bits).
  assert.deepEqual(errnos(out.code), [
    ERRNO.SUCCESS,
    ERRNO.FAULT,
    ERRNO.FAULT,
    ERRNO.BADF,
  ]);
  assert.deepEqual(out.logs, []);
});

Deno.test("attack: fd_pread, path_open with a path the size of memory, fd_readdir: an errno, the path never read", async () => {
  const out = await call("paths");
  const c = out.code;
  assert.deepEqual(errnos(c & 0xffffffffn), [
    ERRNO.SPIPE,
    ERRNO.BADF,
    ERRNO.NOTDIR,
    ERRNO.BADF,
  ]);
  assert.equal(Number(c >> 32n), ERRNO.NOTDIR);
});

Deno.test("attack: random_get outside memory is EFAULT and writes nothing (a negative offset no longer counts from the end)", async () => {
  const out = await call("random");
  assert.deepEqual(errnos(out.code), [
    ERRNO.FAULT,
    ERRNO.FAULT,
    ERRNO.SUCCESS,
    0, // the last 16 bytes of memory are still zero
  ]);
});

Deno.test("attack: a result pointer outside memory is EFAULT, not a failure of the host", async () => {
  const out = await call("pointers");
  assert.deepEqual(errnos(out.code), [
    ERRNO.FAULT,
    ERRNO.FAULT,
    ERRNO.SUCCESS,
    0,
  ]);
});

Deno.test("attack: a million env.log calls outside memory keep ten warnings and count the rest, in the guest and through a pool Worker", async () => {
  const check = (logs: { message: string; source: string }[]) => {
    assert.equal(logs.length, 11);
    for (const l of logs.slice(0, 10)) {
      assert.equal(l.source, "host");
      assert.match(
        l.message,
        /^env\.log called with a range outside the module's memory \(4294967295\+100\)$/,
      );
    }
    assert.equal(
      logs[10].message,
      "999990 more host warnings were not kept (at most 10 per execution)",
    );
  };
  check((await call("bad_logs")).logs);

  const pool = new WasmPool({ size: 1 });
  try {
    const r = await pool.run({
      key: "abuse",
      module: await module(),
      guest: { mainFunction: "bad_logs", fuel: 1_000_000_000n },
      input: new Uint8Array(),
      timeoutMs: 60_000,
    });
    assert.ok(r.outcome.ok, r.outcome.ok ? "" : r.outcome.reason);
    check(r.outcome.logs);
    await r.settled;
  } finally {
    pool.close();
  }
});

Deno.test("attack: a module importing host functions with other types is refused at upload naming them, not failed at every run", async () => {
  const p = await testPlatform();
  try {
    const bytes = await compileWatText(
      "typed.wat",
      `(module
        (import "env" "log" (func $log (param i64 i64 i64)))
        (import "wasi_snapshot_preview1" "fd_write" (func (param i64 i64 i64 i64) (result i32)))
        (memory (export "memory") 1)
        (func (export "malloc") (param i32) (result i32) (i32.const 16))
        (func (export "free") (param i32))
        (func (export "init"))
        (func (export "event") (param i32 i32 i32)
          (call $log (i64.const 1) (i64.const 0) (i64.const 0))))`,
    );
    const res = await p.app.request("/api/v1/tenants/demo/files/typed.wasm", {
      method: "PUT",
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    assert.equal(
      problem.detail,
      'Module "typed.wasm" imports "env"."log" as (i64, i64, i64) -> () where the host has (i32, i32, i32) -> () and "wasi_snapshot_preview1"."fd_write" as (i64, i64, i64, i64) -> i32 where the host has (i32, i32, i32, i32) -> i32: the host\'s functions take and return those types only',
    );
    assert.equal(problem.imports.length, 2);
    assert.equal(await p.repo.info("demo", "typed.wasm"), null);
  } finally {
    await p.close();
  }
});
