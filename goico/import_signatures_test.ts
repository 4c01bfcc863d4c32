import assert from "node:assert/strict";
import { compileWatText } from "./_test_wat.ts";
import { HOST_SIGNATURES, mismatchedImports } from "./import_signatures.ts";
import { unprovidedImports } from "./wasm_guest.ts";

const module = (imports: string) =>
  compileWatText(
    "imports.wat",
    `(module ${imports}
      (memory (export "memory") 1)
      (func (export "malloc") (param i32) (result i32) (i32.const 16))
      (func (export "free") (param i32))
      (func (export "init"))
      (func (export "event") (param i32 i32 i32)))`,
  );

Deno.test("mismatchedImports: host functions imported with other types are named with both signatures", async () => {
  const bytes = await module(`
    (import "env" "log" (func (param i64 i64 i64)))
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "sched_yield" (func (result i64)))
    (import "wasi_snapshot_preview1" "proc_exit" (func (param i32) (result i32)))
    (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i32 i32) (result i32)))`);
  assert.deepEqual(mismatchedImports(bytes), [
    '"env"."log" as (i64, i64, i64) -> () where the host has (i32, i32, i32) -> ()',
    '"wasi_snapshot_preview1"."sched_yield" as () -> i64 where the host has () -> i32',
    '"wasi_snapshot_preview1"."proc_exit" as (i32) -> i32 where the host has (i32) -> ()',
    '"wasi_snapshot_preview1"."clock_time_get" as (i32, i32, i32) -> i32 where the host has (i32, i64, i32) -> i32',
  ]);
});

Deno.test("mismatchedImports: the examples, built by real toolchains (C with wasi-libc, AssemblyScript, Rust), match the host", async () => {
  const dir = new URL("../examples/", import.meta.url);
  let checked = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isDirectory) continue;
    for await (const f of Deno.readDir(new URL(`${e.name}/`, dir))) {
      if (!f.name.endsWith(".wasm")) continue;
      const bytes = await Deno.readFile(new URL(`${e.name}/${f.name}`, dir));
      assert.deepEqual(mismatchedImports(bytes), [], f.name);
      checked++;
    }
  }
  assert.ok(checked >= 2, `${checked} example modules`);
});

Deno.test("every function in HOST_SIGNATURES is one the host provides", async () => {
  // Every provided function has a signature: a module importing all of
  // them by name is missing none, and every name in the table is provided.
  const all = Object.entries(HOST_SIGNATURES).flatMap(([m, fns]) =>
    Object.keys(fns).map((n) => `(import "${m}" "${n}" (func))`)
  ).join("\n");
  const bytes = await module(all);
  assert.deepEqual(
    unprovidedImports(
      await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>),
    ),
    [],
  );
});
