/**
 * What a Jobicolet writes and logs is bounded per execution: stdout, stderr
 * and env.log share one budget (`limits.outputkb`, default 1 MiB), counted
 * as the bytes arrive, so one `fd_write` of 100,000 iovecs over the same
 * 64 KiB (6 GiB "written") costs the host no more than the budget; past it
 * output is dropped and the record says how much. Standard input cannot be
 * written, grown or allocated. Before this, one such event grew the server
 * by gigabytes until the OOM killer took it.
 */
import assert from "node:assert/strict";
import { compileWat, compileWatText } from "./jobicolets/compile_wat.ts";
import { meterFuel, WasmGuest } from "@jobico/goico";
import { type Harness, startHarness } from "./_harness.ts";
import { deployOneModule } from "./_one_module.ts";
import type { Execution } from "../components/executions/execution.ts";

const MiB = 1024 * 1024;

/** Bytes of the messages of `logs`. */
function messageBytes(logs: { message: string }[]): number {
  return logs.reduce(
    (n, l) => n + new TextEncoder().encode(l.message).length,
    0,
  );
}

async function guest(main: string, maxOutputBytes?: number) {
  const bytes = meterFuel(await compileWat("output_flood"), {
    memoryLimitPages: 2048,
    interrupt: true,
  });
  const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  return await WasmGuest.create(module, {
    mainFunction: main,
    fuel: 10_000_000_000n,
    ...(maxOutputBytes !== undefined && { maxOutputBytes }),
  });
}

for (const main of ["stdout", "stderr", "log", "lines"]) {
  for (const limit of [undefined, 4096]) {
    Deno.test(`output_flood.wat ${main}: the call finishes and keeps at most ${limit ?? "the default 1 MiB"} of output`, async () => {
      const g = await guest(main, limit);
      const out = g.call(new TextEncoder().encode("{}"));
      assert.ok(out.ok, out.ok ? "" : out.reason);
      const budget = limit ?? MiB;
      const note = out.logs.at(-1)!;
      assert.equal(note.source, "host");
      assert.match(
        note.message,
        new RegExp(
          `^Output truncated: \\d+ more bytes were written or logged past the limit of ${
            budget / 1024
          } KiB per execution$`,
        ),
      );
      const kept = out.logs.slice(0, -1);
      // Every entry counts 64 bytes more than its message.
      assert.ok(
        messageBytes(kept) + 64 * kept.length <= budget + 64,
        `${messageBytes(kept)} bytes in ${kept.length} entries`,
      );
      assert.ok(kept.length > 0, "what fits is kept");
      // The next call starts with a fresh budget.
      const again = g.call(new TextEncoder().encode("{}"));
      assert.ok(again.ok);
      assert.equal(again.logs.length, out.logs.length);
    });
  }
}

Deno.test("output_flood.wat: writes to stdin, fd_pwrite at 3 GiB and fd_allocate of 3 GiB fail without allocating", async () => {
  for (const main of ["stdin", "pwrite", "allocate"]) {
    const g = await guest(main);
    const out = g.call(new TextEncoder().encode("{}"));
    assert.ok(out.ok, main);
    assert.deepEqual(out.logs, [], main);
  }
});

Deno.test("fd_write: errnos for stdin, a bad descriptor, iovecs outside memory; fd_pwrite to stdout is ESPIPE", async () => {
  const bytes = await compileWatText(
    "errnos.wat",
    `(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_pwrite" (func $pw (param i32 i32 i32 i64 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "malloc") (param i32) (result i32) (i32.const 1024))
      (func (export "free") (param i32))
      (func (export "init"))
      ;; iovec at 0: {ptr 16, len 4}; at 8: {ptr 65534, len 4} (outside)
      (func (export "event") (param $ret i32) (param i32 i32)
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 4))
        (i32.store (i32.const 8) (i32.const 65534))
        (i32.store (i32.const 12) (i32.const 4))
        ;; code = stdin errno | bad fd << 8 | outside << 16 | pwrite << 24
        (i64.store (local.get $ret)
          (i64.extend_i32_u
            (i32.or
              (i32.or
                (call $w (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 32))
                (i32.shl (call $w (i32.const 9) (i32.const 0) (i32.const 1) (i32.const 32)) (i32.const 8)))
              (i32.or
                (i32.shl (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 32)) (i32.const 16))
                (i32.shl (call $pw (i32.const 1) (i32.const 0) (i32.const 1) (i64.const 0) (i32.const 32)) (i32.const 24))))))
        (i64.store offset=8 (local.get $ret) (i64.const 0))))`,
  );
  const g = await WasmGuest.create(
    await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>),
  );
  const out = g.call(new Uint8Array());
  assert.ok(out.ok);
  const code = Number(out.code);
  // EBADF (8) for stdin and fd 9, EFAULT (21) outside memory, ESPIPE (70).
  assert.deepEqual(
    [code & 0xff, (code >> 8) & 0xff, (code >> 16) & 0xff, code >>> 24],
    [8, 8, 21, 70],
  );
});

async function runFlood(
  h: Harness,
  tenant: string,
  main: string,
  limits?: string,
): Promise<Execution> {
  await deployOneModule(h, {
    tenant,
    file: "flood.wasm",
    bytes: await compileWat("output_flood"),
    main,
    limits,
  });
  const [id] = await h.send(tenant, "run", [{}]);
  const [exec] = await h.waitFor(
    tenant,
    (e) => e.some((x) => x.eventId === id),
  );
  return exec;
}

Deno.test("end to end: an output flood is recorded ok with the truncation note, default and limits.outputkb", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    const byDefault = await runFlood(h, "flood-default", "stdout");
    assert.equal(byDefault.status, "ok");
    assert.equal(byDefault.result, "done");
    // The record keeps what fits one KV value: the note is among it.
    assert.ok(
      byDefault.logs.some((l) =>
        /^Output truncated: \d+ more bytes .* limit of 1024 KiB per execution$/
          .test(l.message)
      ),
    );
    const small = await runFlood(h, "flood-small", "log", "{outputkb: 8}");
    assert.equal(small.status, "ok");
    assert.match(small.logs.at(-1)!.message, /limit of 8 KiB per execution$/);
    assert.ok(small.logs.length <= 3, `${small.logs.length} entries`);
    assert.ok(messageBytes(small.logs) < 8 * 1024 + 200);
    // The platform still serves.
    const res = await h.api("/healthz");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("end to end: limits.outputkb is validated at deploy against its ceiling", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await h.upload("out", "flood.wasm", await compileWat("output_flood"));
    await h.upload("out", "any.json", "{}");
    const res = await h.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: `
id: one
tenant: out
queues: [{id: q}]
jobs:
  - event: {id: run, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: r}
runtimes:
  - {id: r, moduleref: flood.wasm, limits: {outputkb: 999999999}}
`,
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.match(
      JSON.stringify(body),
      /outputkb 999999999 is out of range: use 1 to 16384/,
    );
  } finally {
    await h.close();
  }
});
