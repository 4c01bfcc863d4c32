import assert from "node:assert/strict";
import { withDefaults } from "./with_defaults.ts";

Deno.test("withDefaults: a key given as undefined keeps its default", () => {
  const defaults = { retryBaseMs: 1000, batch: 100, name: "x" };
  assert.deepEqual(
    withDefaults(defaults, { retryBaseMs: undefined, batch: 5 }),
    { retryBaseMs: 1000, batch: 5, name: "x" },
  );
  // The spread it replaces loses the default.
  const spread = { ...defaults, ...{ retryBaseMs: undefined } };
  assert.equal(spread.retryBaseMs, undefined);
});

Deno.test("withDefaults: no options, or falsy values that are set", () => {
  const defaults = { n: 3, on: true, label: "a" };
  assert.deepEqual(withDefaults(defaults, undefined), defaults);
  assert.deepEqual(withDefaults(defaults, { n: 0, on: false, label: "" }), {
    n: 0,
    on: false,
    label: "",
  });
  // Keys without a default are left out; the defaults are not changed.
  assert.deepEqual(
    withDefaults(defaults, { n: 1, other: 2 } as { n: number }),
    { n: 1, on: true, label: "a" },
  );
  assert.deepEqual(defaults, { n: 3, on: true, label: "a" });
});
