import assert from "node:assert/strict";
import { TooLargeError, ValidationError } from "@jobico/goico";
import {
  compileWat,
  compileWatText,
} from "../../tests/jobicolets/compile_wat.ts";
import { examples, testPlatform } from "../server/_test_platform.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("a module is checked with WebAssembly.validate and stored by content", async () => {
  const p = await testPlatform();
  try {
    const bytes = await Deno.readFile(new URL("greet.wasm", examples));
    const info = await p.repo.put("demo", "greet.wasm", bytes);
    assert.equal(info.kind, "wasm");
    assert.equal(info.size, bytes.length);
    const back = await p.repo.read("demo", "greet.wasm");
    assert.deepEqual(back.bytes, bytes);
    const broken = bytes.slice(0, 100);
    await assert.rejects(
      p.repo.put("demo", "broken.wasm", broken, "wasm"),
      (e: Error) => {
        assert.ok(e instanceof ValidationError);
        assert.match(
          e.message,
          /"broken\.wasm" is not a valid WebAssembly module/,
        );
        return true;
      },
    );
    assert.equal(await p.repo.info("demo", "broken.wasm"), null);
  } finally {
    await p.close();
  }
});

Deno.test("a schema is compiled at upload; invalid JSON or an invalid schema is refused naming the file", async () => {
  const p = await testPlatform();
  try {
    assert.equal(
      (await p.repo.put("t", "ok.json", text('{"type":"object"}'))).kind,
      "schema",
    );
    await assert.rejects(
      p.repo.put("t", "bad.json", text("{nope")),
      /Schema "bad\.json" is not valid UTF-8 JSON/,
    );
    await assert.rejects(
      p.repo.put("t", "bad2.json", text('{"type":"objekt"}')),
      /Schema "bad2\.json" is not a valid JSON Schema/,
    );
    await assert.rejects(
      p.repo.put("t", "bad3.json", text("[1]")),
      /must be a JSON object/,
    );
    assert.deepEqual((await p.repo.list("t")).map((f) => f.name), ["ok.json"]);
  } finally {
    await p.close();
  }
});

Deno.test("names that could escape their tenant are refused", async () => {
  const p = await testPlatform();
  try {
    for (
      const name of ["../x.json", ".hidden", "a/b.json", "", "x".repeat(200)]
    ) {
      await assert.rejects(
        p.repo.put("t", name, text("{}")),
        ValidationError,
        name,
      );
    }
    for (const tenant of ["..", "a b", "t/x"]) {
      await assert.rejects(
        p.repo.put(tenant, "x.json", text("{}")),
        ValidationError,
        tenant,
      );
    }
  } finally {
    await p.close();
  }
});

Deno.test("oversized schemas are refused with 413", async () => {
  const p = await testPlatform();
  try {
    const huge = text(JSON.stringify({ description: "x".repeat(300 * 1024) }));
    await assert.rejects(
      p.repo.put("t", "huge.json", huge),
      TooLargeError,
    );
  } finally {
    await p.close();
  }
});

Deno.test("the repo API uploads, lists and downloads files", async () => {
  const p = await testPlatform();
  try {
    const bytes = await Deno.readFile(new URL("audit.wasm", examples));
    const put = await p.app.request("/api/v1/tenants/demo/files/audit.wasm", {
      method: "PUT",
      body: bytes,
    });
    assert.equal(put.status, 201);
    const info = await put.json();
    assert.equal(info.kind, "wasm");
    assert.match(info.sha256, /^[0-9a-f]{64}$/);
    const list = await (await p.app.request("/api/v1/tenants/demo/files"))
      .json();
    assert.deepEqual(list.files.map((f: { name: string }) => f.name), [
      "audit.wasm",
    ]);
    const get = await p.app.request("/api/v1/tenants/demo/files/audit.wasm");
    assert.equal(get.headers.get("content-type"), "application/wasm");
    assert.deepEqual(new Uint8Array(await get.arrayBuffer()), bytes);
    const bad = await p.app.request(
      "/api/v1/tenants/demo/files/x.json?kind=zip",
      { method: "PUT", body: "{}" },
    );
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).detail, /"zip"/);
    const missing = await p.app.request("/api/v1/tenants/demo/files/none.wasm");
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).detail, /"none\.wasm"/);
  } finally {
    await p.close();
  }
});

Deno.test("a module importing what the host does not provide is refused with 400 naming the import", async () => {
  const p = await testPlatform();
  try {
    // The examples import only env.log and WASI preview 1 (fd_*): accepted.
    for (const name of ["greet.wasm", "audit.wasm"]) {
      const bytes = await Deno.readFile(new URL(name, examples));
      assert.equal((await p.repo.put("demo", name, bytes)).kind, "wasm");
    }
    for (
      const [fixture, imported] of [
        ["sock_open", `"wasi_snapshot_preview1"."sock_open"`],
        ["env_system", `"env"."system"`],
      ]
    ) {
      const name = `${fixture}.wasm`;
      const bytes = await compileWat(fixture);
      const message =
        `Module "${name}" imports ${imported}, which the host does not provide`;
      await assert.rejects(
        p.repo.put("demo", name, bytes),
        (e: Error) => {
          assert.ok(e instanceof ValidationError);
          assert.equal(e.message, message);
          return true;
        },
      );
      const res = await p.app.request(`/api/v1/tenants/demo/files/${name}`, {
        method: "PUT",
        body: bytes as Uint8Array<ArrayBuffer>,
      });
      assert.equal(res.status, 400);
      const problem = await res.json();
      assert.equal(problem.detail, message);
      assert.deepEqual(problem.imports, [imported]);
      assert.equal(await p.repo.info("demo", name), null);
    }
  } finally {
    await p.close();
  }
});

Deno.test("a module with many unprovided imports names five and counts the rest", async () => {
  const p = await testPlatform();
  try {
    const bytes = await compileWatText(
      "many.wat",
      `(module
        (import "env" "log" (func (param i32 i32 i32)))
        (import "env" "memory" (memory 1))
        (import "env" "abort" (func))
        (import "env" "table" (table 1 funcref))
        (import "env" "seed" (global i64))
        (import "wasi_unstable" "fd_write" (func))
        (import "wasi_snapshot_preview1" "sock_open" (func))
        (import "wasi_snapshot_preview1" "sock_connect" (func))
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))`,
    );
    await assert.rejects(
      p.repo.put("demo", "many.wasm", bytes),
      (e: Error) => {
        assert.ok(e instanceof ValidationError);
        assert.equal(
          e.message,
          `Module "many.wasm" imports "env"."memory" (a memory), "env"."abort", ` +
            `"env"."table" (a table), "env"."seed" (a global), ` +
            `"wasi_unstable"."fd_write" and 2 more, which the host does not provide`,
        );
        assert.equal((e.extra.imports as string[]).length, 7);
        return true;
      },
    );
  } finally {
    await p.close();
  }
});
