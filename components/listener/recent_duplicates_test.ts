import assert from "node:assert/strict";
import { DUPLICATE_WINDOW_MS, RecentDuplicates } from "./recent_duplicates.ts";

Deno.test("RecentDuplicates: a tenant reads first for the window after its last duplicate, others never", () => {
  const clock = { t: 1_000_000 };
  const d = new RecentDuplicates({ now: () => clock.t });
  assert.equal(d.readFirst("a"), false);
  d.found("a");
  assert.equal(d.readFirst("a"), true);
  assert.equal(d.readFirst("b"), false);
  clock.t += DUPLICATE_WINDOW_MS - 1;
  assert.equal(d.readFirst("a"), true);
  // Another duplicate within the window extends it.
  d.found("a");
  clock.t += DUPLICATE_WINDOW_MS - 1;
  assert.equal(d.readFirst("a"), true);
  clock.t += 1;
  assert.equal(d.readFirst("a"), false);
  assert.equal(d.readFirst("a"), false);
});

Deno.test("RecentDuplicates: a window of its own; at most 10,000 tenants remembered, the oldest forgotten first", () => {
  const clock = { t: 0 };
  const d = new RecentDuplicates({ windowMs: 50, now: () => clock.t });
  d.found("first");
  clock.t = 49;
  assert.equal(d.readFirst("first"), true);
  clock.t = 50;
  assert.equal(d.readFirst("first"), false);
  clock.t = 0;
  for (let i = 0; i <= 10_000; i++) d.found(`t${i}`);
  // 10,001 found: the first is forgotten (it reads nothing first again).
  assert.equal(d.readFirst("t0"), false);
  assert.equal(d.readFirst("t1"), true);
  assert.equal(d.readFirst("t10000"), true);
  // Found again, a tenant moves to the newest: it outlives older ones.
  d.found("t1");
  d.found("another");
  assert.equal(d.readFirst("t1"), true);
  assert.equal(d.readFirst("t2"), false);
});
