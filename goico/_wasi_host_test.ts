import assert from "node:assert/strict";
import { WASI } from "@bjorn3/browser_wasi_shim";
import { compileWatText } from "./_test_wat.ts";
import { describeThrown, HostFunctionError, WasiHost } from "./_wasi_host.ts";
import { Capture } from "./_guest_output.ts";
import { FuelGauge } from "./_guest_gauge.ts";

function hostWith(
  override: Record<string, (...args: number[]) => unknown>,
): WasiHost {
  const shim = new WASI([], [], [], { debug: false });
  Object.assign(shim.wasiImport, override);
  const gauge = new FuelGauge(undefined);
  return new WasiHost(shim, {
    memory: () => undefined,
    maxSleepMs: 0,
    capture: new Capture(4096, 1024),
    gauge: () => gauge,
  });
}

Deno.test("WasiHost: a non-Error thrown by a WASI function becomes an Error naming the function", async () => {
  const host = hostWith({
    fd_advise: () => {
      throw "path_link should always return success";
    },
    fd_sync: () => {
      throw { code: 5 };
    },
    fd_tell: () => {
      throw new RangeError("out of bounds");
    },
  });
  assert.throws(
    () => host.imports.fd_advise(),
    (err: unknown) => {
      assert.ok(err instanceof HostFunctionError);
      assert.equal(
        err.message,
        `"wasi_snapshot_preview1"."fd_advise" threw "path_link should always return success"`,
      );
      return true;
    },
  );
  assert.throws(
    () => host.imports.fd_sync(),
    /^HostFunctionError: "wasi_snapshot_preview1"."fd_sync" threw \{"code":5\}$/,
  );
  // Errors pass through as they are (a stack overflow must stay one).
  assert.throws(() => host.imports.fd_tell(), RangeError);

  // Through wasm, the caller gets the readable Error.
  const bytes = await compileWatText(
    "inline.wat",
    `(module
      (import "wasi_snapshot_preview1" "fd_advise" (func $f))
      (func (export "run") (call $f)))`,
  );
  const instance = await WebAssembly.instantiate(
    await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>),
    { wasi_snapshot_preview1: host.imports },
  );
  assert.throws(
    () => (instance.exports.run as () => void)(),
    HostFunctionError,
  );
});

Deno.test("describeThrown renders any value readably", () => {
  assert.equal(
    describeThrown("sockets not supported"),
    '"sockets not supported"',
  );
  assert.equal(describeThrown(42), "42");
  assert.equal(describeThrown(undefined), "undefined");
  assert.equal(describeThrown(null), "null");
  assert.equal(describeThrown(10n), "10");
  assert.equal(describeThrown(Symbol("s")), "Symbol(s)");
  assert.equal(describeThrown(new Error("boom")), "boom");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(describeThrown(cyclic), "[object Object]");
});
