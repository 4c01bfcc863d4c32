import assert from "node:assert/strict";
import { deletePrefixes } from "./delete_prefixes.ts";

Deno.test("deletePrefixes removes every entry under the prefixes and nothing else", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (let i = 0; i < 1234; i++) {
      await kv.set(["a", "t1", i], i);
    }
    await kv.set(["b", "t1"], 1);
    await kv.set(["a", "t2", 1], 1);
    await kv.set(["b", "t1", "keep"], 1);
    const n = await deletePrefixes(
      kv,
      [["a", "t1"], ["b", "t1"]],
      (k) => k[2] === "keep",
    );
    assert.equal(n, 1234 + 1);
    const left = await Array.fromAsync(kv.list({ prefix: [] }));
    assert.deepEqual(left.map((e) => e.key), [["a", "t2", 1], [
      "b",
      "t1",
      "keep",
    ]]);
  } finally {
    kv.close();
  }
});
