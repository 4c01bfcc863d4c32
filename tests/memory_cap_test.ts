/**
 * The memory cap covers everything a module can allocate: a second memory
 * (refused at upload: multi-memory would multiply the cap), tables (their
 * elements count against the cap, at their start and in `table.grow`), and
 * what the Workers keep warm (tests/tenant_state_test.ts). Before, a module
 * could start with ten tables of ten million elements, or grow a table to
 * 770 MB past a 128 MiB cap.
 */
import assert from "node:assert/strict";
import { compileWat, compileWatText } from "./jobicolets/compile_wat.ts";
import { startHarness } from "./_harness.ts";
import { deployOneModule } from "./_one_module.ts";

/** The smallest Jobicolet around `extra` module fields. */
function jobicolet(extra: string): string {
  return `(module
    (memory (export "memory") 1)
    ${extra}
    (func (export "malloc") (param i32) (result i32) (i32.const 1024))
    (func (export "free") (param i32))
    (func (export "init"))
    (func (export "event") (param i32 i32 i32)))`;
}

Deno.test("uploads that the memory cap cannot cover are refused, naming why", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    const cases: [string, string, Record<string, boolean>, RegExp][] = [
      [
        "two-memories.wasm",
        jobicolet("(memory $b 2000)"),
        { multi_memory: true },
        /has 2 memories; a module with a memory limit may have one/,
      ],
      [
        "huge-tables.wasm",
        jobicolet(
          Array.from({ length: 10 }, () => "(table 10000000 funcref)").join(
            " ",
          ),
        ),
        {},
        /tables start with 100000000 elements .* more than the limit of 16384 pages \(1 GiB\)/,
      ],
      [
        "many-tables.wasm",
        jobicolet(
          Array.from({ length: 101 }, () => "(table 0 funcref)").join(" "),
        ),
        {},
        /has 101 tables; a module with a memory limit may have at most 100/,
      ],
    ];
    for (const [name, text, features, reason] of cases) {
      const bytes = await compileWatText(name, text, features, {
        validate: false,
      });
      assert.ok(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>), name);
      const res = await h.api(`/api/v1/tenants/cap/files/${name}`, {
        method: "PUT",
        body: bytes as Uint8Array<ArrayBuffer>,
      });
      const body = await res.json();
      assert.equal(res.status, 400, name);
      assert.match(
        body.detail,
        new RegExp(`Module "${name}" cannot run within the sandbox's limits`),
      );
      assert.match(body.detail, reason, name);
    }
  } finally {
    await h.close();
  }
});

Deno.test("a table grown past the default memory cap fails the execution with the reason", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await deployOneModule(h, {
      tenant: "cap",
      file: "bulk_bomb.wasm",
      bytes: await compileWat("bulk_bomb"),
      main: "table_grow",
    });
    const [id] = await h.send("cap", "run", [{}]);
    const [exec] = await h.waitFor(
      "cap",
      (e) => e.some((x) => x.eventId === id),
    );
    assert.equal(exec.status, "failed");
    assert.equal(
      exec.error,
      "memory limit exceeded: the module tried to grow its memory or tables past 128 MiB",
    );
  } finally {
    await h.close();
  }
});
