/**
 * docs/jobicolet-abi.md runs as written: its minimal module in WAT, and the
 * Rust example it explains (examples/rust, flavour 1), on the platform.
 */
import assert from "node:assert/strict";
import { WasmGuest } from "@jobico/goico";
import { startHarness } from "./_harness.ts";
import { compileWatText } from "./jobicolets/compile_wat.ts";

const ROOT = new URL("../", import.meta.url);

/** The first ```wat block of the ABI document. */
async function minimalModule(): Promise<string> {
  const doc = await Deno.readTextFile(new URL("docs/jobicolet-abi.md", ROOT));
  const block = /```wat\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "the document has a wat block");
  return block[1];
}

Deno.test("the ABI document's minimal module runs as it says, execution after execution", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    const wasm = await compileWatText("minimal.wat", await minimalModule());
    await h.upload("abi", "minimal.wasm", wasm);
    await h.upload("abi", "any.json", "{}");
    await h.deploy(`
id: minimal
tenant: abi
queues: [{id: q}]
jobs:
  - event: {id: hello, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: minimal}
runtimes:
  - {id: minimal, moduleref: minimal.wasm}
`);
    // One after another on the same warm instance: the heap is reused.
    const items = [{ name: "Ada" }, { name: "x".repeat(15_000) }, { n: 3 }];
    for (const item of items) {
      const [id] = await h.send("abi", "hello", [item]);
      const execs = await h.waitFor(
        "abi",
        (e) => e.some((x) => x.eventId === id),
      );
      const e = execs.find((x) => x.eventId === id)!;
      assert.equal(e.status, "ok", e.error ?? "");
      assert.equal(e.code, 0);
      assert.equal(e.result, JSON.stringify(item));
      assert.deepEqual(e.logs, [
        { level: "info", source: "module", message: "got an event" },
      ]);
    }
  } finally {
    await h.close();
  }
});

Deno.test("the Rust example (Debian's rustc, no crates, flavour 1) greets through its package", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await h.upload(
      "demo",
      "hello.wasm",
      await Deno.readFile(new URL("examples/rust/hello.wasm", ROOT)),
    );
    await h.upload(
      "demo",
      "greet.schema.json",
      await Deno.readTextFile(
        new URL("examples/greet/greet.schema.json", ROOT),
      ),
    );
    await h.deploy(
      await Deno.readTextFile(new URL("examples/rust/job.yaml", ROOT)),
    );
    const [id] = await h.send("demo", "hello", [{ name: "Ada" }]);
    const execs = await h.waitFor(
      "demo",
      (e) => e.some((x) => x.eventId === id),
    );
    const e = execs.find((x) => x.eventId === id)!;
    assert.equal(e.status, "ok", e.error ?? "");
    assert.equal(e.result, '{"greeting":"Hello, Ada!"}');
    // Its free(ptr, size) freed all three blocks without a host warning.
    assert.deepEqual(e.logs, [
      { level: "info", source: "module", message: "hello Ada" },
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("the Rust example says ver 1 and answers code 2 without a name", async () => {
  const module = await WebAssembly.compile(
    await Deno.readFile(new URL("examples/rust/hello.wasm", ROOT)),
  );
  const guest = await WasmGuest.create(module);
  assert.equal(guest.ver, 1);
  for (let i = 0; i < 3; i++) {
    const out = guest.call(new TextEncoder().encode('{"nom":"Ada"}'));
    assert.ok(out.ok);
    assert.equal(out.code, 2n);
    assert.equal(out.result, "missing name");
    assert.deepEqual(out.logs.map((l) => [l.level, l.message]), [
      [2, "no name in the item"],
    ]);
  }
});
