import assert from "node:assert/strict";
import { SameKeys } from "./same_keys.ts";

Deno.test("SameKeys: one array per name, made once; past max it starts over", () => {
  let made = 0;
  const keys = new SameKeys((name) => (made++, ["count", name]), 2);
  const a = keys.get("a");
  assert.equal(keys.get("a"), a);
  assert.deepEqual(a, ["count", "a"]);
  keys.get("b");
  assert.equal(made, 2);
  keys.get("c"); // the third name: the first two are forgotten
  assert.notEqual(keys.get("a"), a);
  assert.deepEqual(keys.get("a"), ["count", "a"]);
});
