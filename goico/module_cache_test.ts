import assert from "node:assert/strict";
import { compileWat } from "./_test_wat.ts";
import { ModuleCache } from "./module_cache.ts";

/** A loader of real module bytes that counts its calls. */
function countingLoader(name = "echo") {
  const loader = {
    calls: 0,
    load: () => {
      loader.calls++;
      return compileWat(name);
    },
  };
  return loader;
}

Deno.test("ModuleCache: concurrent gets of one sha load and compile once", async () => {
  const cache = new ModuleCache();
  const loader = countingLoader();
  const mods = await Promise.all(
    Array.from({ length: 8 }, () => cache.get("sha-echo", loader.load)),
  );
  assert.equal(loader.calls, 1);
  assert.ok(mods[0] instanceof WebAssembly.Module);
  assert.ok(mods.every((m) => m === mods[0]));
  assert.ok(
    WebAssembly.Module.exports(mods[0]).some((e) => e.name === "event"),
  );
  // Later gets are hits too.
  assert.equal(await cache.get("sha-echo", loader.load), mods[0]);
  assert.equal(loader.calls, 1);
  assert.equal(cache.size, 1);
});

Deno.test("ModuleCache: different shas are different modules", async () => {
  const cache = new ModuleCache();
  const echo = countingLoader("echo");
  const trap = countingLoader("trap");
  const a = await cache.get("a", echo.load);
  const b = await cache.get("b", trap.load);
  assert.notEqual(a, b);
  assert.equal(echo.calls, 1);
  assert.equal(trap.calls, 1);
  assert.equal(cache.size, 2);
});

Deno.test("ModuleCache: a failing load is not cached", async () => {
  const cache = new ModuleCache();
  let calls = 0;
  await assert.rejects(
    () =>
      cache.get("sha", () => {
        calls++;
        return Promise.reject(new Error("blob store unavailable"));
      }),
    /blob store unavailable/,
  );
  assert.equal(cache.size, 0);
  // Bytes that do not compile are not cached either.
  await assert.rejects(
    () =>
      cache.get("sha", () => {
        calls++;
        return Promise.resolve(new TextEncoder().encode("not wasm"));
      }),
    WebAssembly.CompileError,
  );
  assert.equal(cache.size, 0);
  const loader = countingLoader();
  const mod = await cache.get("sha", loader.load);
  assert.ok(mod instanceof WebAssembly.Module);
  assert.equal(calls, 2);
  assert.equal(loader.calls, 1);
  assert.equal(cache.size, 1);
});

Deno.test("ModuleCache: least recently used entries are evicted beyond max", async () => {
  const cache = new ModuleCache(2);
  const a = countingLoader();
  const b = countingLoader();
  const c = countingLoader();
  await cache.get("a", a.load);
  await cache.get("b", b.load);
  await cache.get("a", a.load); // a is now the most recently used
  await cache.get("c", c.load); // evicts b
  assert.equal(cache.size, 2);
  assert.deepEqual([a.calls, b.calls, c.calls], [1, 1, 1]);

  await cache.get("a", a.load);
  await cache.get("c", c.load);
  assert.deepEqual([a.calls, b.calls, c.calls], [1, 1, 1], "a and c are hits");
  await cache.get("b", b.load);
  assert.equal(b.calls, 2, "b was evicted and loads again");
  assert.equal(cache.size, 2);
});

Deno.test("ModuleCache: an evicted failing load does not drop its successor", async () => {
  const cache = new ModuleCache(1);
  let fail!: (err: Error) => void;
  const failing = cache.get(
    "a",
    () => new Promise<Uint8Array>((_, reject) => (fail = reject)),
  );
  await cache.get("b", countingLoader().load); // evicts the pending "a"
  const good = countingLoader();
  const mod = await cache.get("a", good.load); // a new "a"; evicts "b"
  fail(new Error("first load failed late"));
  await assert.rejects(failing, /failed late/);
  // The late failure of the old load must not evict the new, good entry.
  assert.equal(await cache.get("a", good.load), mod);
  assert.equal(good.calls, 1);
  assert.equal(cache.size, 1);
});
