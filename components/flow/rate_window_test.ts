import assert from "node:assert/strict";
import { admitNow, throttle } from "./rate_window.ts";

Deno.test("admitNow: all or none within the current window; a new window starts over", () => {
  const a = admitNow(null, 3, 1000, 5_200, 2);
  assert.deepEqual(a, { state: { p: 1000, w: 5, n: 2 } });
  const s = "state" in a ? a.state : null;
  assert.deepEqual(admitNow(s, 3, 1000, 5_900, 2), {
    retryAfterMs: 100,
    used: 2,
  });
  assert.deepEqual(admitNow(s, 3, 1000, 5_900, 1), {
    state: { p: 1000, w: 5, n: 3 },
  });
  assert.deepEqual(admitNow(s, 3, 1000, 6_000, 3), {
    state: { p: 1000, w: 6, n: 3 },
  });
  // A changed period counts anew.
  assert.deepEqual(admitNow(s, 3, 2000, 5_900, 3), {
    state: { p: 2000, w: 2, n: 3 },
  });
  // More than the limit at once never fits.
  assert.equal("retryAfterMs" in admitNow(null, 3, 1000, 0, 4), true);
});

Deno.test("throttle: each item in the first window with room, due when it opens, in order", () => {
  const { state, dueAts } = throttle(null, 2, 1000, 5_200, 5);
  assert.deepEqual(dueAts, [5_200, 5_200, 6_000, 6_000, 7_000]);
  assert.deepEqual(state, { p: 1000, w: 7, n: 1 });
  // Later items queue behind the windows already taken.
  const next = throttle(state, 2, 1000, 5_300, 2);
  assert.deepEqual(next.dueAts, [7_000, 8_000]);
  // Once those windows passed, it starts over at the present.
  assert.deepEqual(throttle(next.state, 2, 1000, 9_500, 1).dueAts, [9_500]);
});

Deno.test("attack: a burst of 10,000 items of one key: no window takes more than the limit", () => {
  let state = null;
  const perWindow = new Map<number, number>();
  for (let i = 0; i < 10_000; i++) {
    const r = throttle(state, 7, 1000, 1_000_000 + i, 1);
    state = r.state;
    const w = Math.floor(r.dueAts[0] / 1000);
    perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
    assert.ok(r.dueAts[0] >= 1_000_000 + i);
  }
  assert.ok(Math.max(...perWindow.values()) <= 7);
  assert.equal(perWindow.size, Math.ceil(10_000 / 7));
});
