import assert from "node:assert/strict";
import { deployGreet, startHarness } from "../../tests/_harness.ts";
import { captureIo, type CaptureOptions } from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

const examples = new URL("../../examples/greet/", import.meta.url);

Deno.test("platform: files show prints a schema's content and a module's size, sha-256, imports and exports", async () => {
  const h = await startHarness();
  try {
    await deployGreet(h);
    const cli = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);

    const schemaText = await Deno.readTextFile(
      new URL("greet.schema.json", examples),
    );
    const schema = JSON.parse(schemaText);
    let r = await cli("files", "show", "demo", "greet.schema.json");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^name\s+greet\.schema\.json\nkind\s+schema\nsize\s+\d+ bytes/,
    );
    // The content, pretty, after a blank line.
    const [, content] = r.out.split("\n\n");
    assert.deepEqual(JSON.parse(content), schema);
    assert.equal(content, JSON.stringify(schema, null, 2) + "\n");
    r = await cli("files", "show", "demo", "greet.schema.json", "--json");
    assert.equal(r.code, 0, r.err);
    const shownSchema = JSON.parse(r.out);
    assert.deepEqual(shownSchema.schema, schema);
    assert.equal(shownSchema.kind, "schema");

    // The module: what WebAssembly itself says of the local file.
    const bytes = await Deno.readFile(new URL("greet.wasm", examples));
    const module = await WebAssembly.compile(bytes);
    const sha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    r = await cli("files", "show", "demo", "greet.wasm", "--json");
    assert.equal(r.code, 0, r.err);
    const shown = JSON.parse(r.out);
    assert.equal(shown.name, "greet.wasm");
    assert.equal(shown.kind, "wasm");
    assert.equal(shown.size, bytes.byteLength);
    assert.equal(shown.sha256, sha);
    assert.deepEqual(shown.imports, WebAssembly.Module.imports(module));
    assert.deepEqual(shown.exports, WebAssembly.Module.exports(module));
    assert.ok(shown.exports.some((e: { name: string }) => e.name === "event"));

    r = await cli("files", "show", "demo", "greet.wasm");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`\\nsha256\\s+${sha}\\n`));
    assert.match(r.out, new RegExp(`\\nsize\\s+${bytes.byteLength} bytes \\(`));
    assert.match(r.out, /\nIMPORT\s+KIND\n/);
    assert.match(r.out, /\nEXPORT\s+KIND\n(.*\n)*event\s+function\n/);
    for (const i of WebAssembly.Module.imports(module)) {
      assert.ok(r.out.includes(`${i.module}.${i.name}`), i.name);
    }
  } finally {
    await h.close();
  }
});

Deno.test("platform: files show of a missing file or tenant exits 1 with a hint; a missing argument exits 2", async () => {
  const h = await startHarness();
  try {
    await deployGreet(h);
    const cli = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);
    let r = await cli("files", "show", "demo", "nope.wasm");
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.equal(
      r.err,
      'error: File "nope.wasm" not found in tenant "demo"\n' +
        "hint: See what exists: jobico files list demo\n",
    );
    r = await cli("files", "show", "nobody", "greet.wasm");
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      'error: Not found: Unknown tenant "nobody" (HTTP 404)\n' +
        "hint: List the tenants: jobico tenant list\n",
    );
    r = await cli("files", "show", "demo");
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      "error: missing required argument 'name'\n" +
        'hint: Run "jobico files show --help"\n',
    );
  } finally {
    await h.close();
  }
});
