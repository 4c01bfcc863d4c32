import assert from "node:assert/strict";
import { compileWat, FIXTURES } from "./compile_wat.ts";

type Shape = {
  exports: Record<string, WebAssembly.ImportExportKind>;
  imports: string[];
};

const BASE_EXPORTS: Record<string, WebAssembly.ImportExportKind> = {
  memory: "memory",
  malloc: "function",
  free: "function",
  init: "function",
  event: "function",
};

const EXPECTED: Record<(typeof FIXTURES)[number], Shape> = {
  trap: { exports: { ...BASE_EXPORTS, ver: "function" }, imports: ["env.log"] },
  error: { exports: BASE_EXPORTS, imports: ["env.log"] },
  trapping_free: {
    exports: { ...BASE_EXPORTS, ver: "function" },
    imports: ["env.log"],
  },
  bad_log: {
    exports: { ...BASE_EXPORTS, ver: "function" },
    imports: ["env.log"],
  },
  echo: {
    exports: { ...BASE_EXPORTS, ver: "function", _start: "function" },
    imports: ["env.log"],
  },
  wasi_echo: {
    exports: { ...BASE_EXPORTS, ver: "function" },
    imports: ["env.log", "wasi_snapshot_preview1.fd_write"],
  },
};

/** Instantiates with stub imports and returns what `ver` says (0 if absent). */
function abiVersion(module: WebAssembly.Module): number {
  const instance = new WebAssembly.Instance(module, {
    env: { log: () => {} },
    wasi_snapshot_preview1: { fd_write: () => 0 },
  });
  const ver = instance.exports.ver as (() => number) | undefined;
  return ver ? ver() : 0;
}

const VERSIONS: Record<(typeof FIXTURES)[number], number> = {
  trap: 1,
  error: 0,
  trapping_free: 1,
  bad_log: 0,
  echo: 0,
  wasi_echo: 0,
};

for (const name of FIXTURES) {
  Deno.test(`compileWat: ${name}.wat is a valid Jobicolet`, async () => {
    const bytes = await compileWat(name);
    assert.ok(bytes instanceof Uint8Array);
    assert.ok(WebAssembly.validate(bytes as BufferSource));
    const module = new WebAssembly.Module(bytes as BufferSource);

    const exports = Object.fromEntries(
      WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]),
    );
    assert.deepEqual(exports, EXPECTED[name].exports);

    const imports = WebAssembly.Module.imports(module);
    assert.deepEqual(
      imports.map((i) => `${i.module}.${i.name}`).sort(),
      [...EXPECTED[name].imports].sort(),
    );
    assert.ok(imports.every((i) => i.kind === "function"));

    assert.equal(abiVersion(module), VERSIONS[name]);
  });
}

Deno.test("compileWat caches per name", async () => {
  const a = await compileWat("echo");
  const b = await compileWat("echo");
  assert.equal(a, b);
  assert.notEqual(a, await compileWat("trap"));
});

Deno.test("compileWat rejects an unknown fixture", async () => {
  await assert.rejects(
    () => compileWat("no_such_fixture"),
    Deno.errors.NotFound,
  );
  await assert.rejects(() => compileWat("../echo"), /bad fixture name/);
});
