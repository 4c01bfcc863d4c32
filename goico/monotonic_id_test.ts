import assert from "node:assert/strict";
import { monotonicId, monotonicIdFactory } from "./monotonic_id.ts";

function assertUniqueSortedFixedLength(ids: string[]) {
  assert.equal(new Set(ids).size, ids.length, "ids are unique");
  for (const id of ids) {
    assert.equal(id.length, 19, id);
    assert.match(id, /^[0-9a-z]{19}$/);
  }
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]} at ${i}`);
  }
  // Sorting changes nothing: creation order is sort order.
  assert.deepEqual([...ids].sort(), ids);
}

Deno.test("monotonicId: 10,000 ids are unique, sorted in creation order, 19 chars", () => {
  const ids = Array.from({ length: 10_000 }, () => monotonicId());
  assertUniqueSortedFixedLength(ids);
});

Deno.test("monotonicIdFactory: a frozen clock still gives unique, sorted ids", () => {
  const make = monotonicIdFactory(() => 1_700_000_000_000);
  const ids = Array.from({ length: 10_000 }, () => make());
  assertUniqueSortedFixedLength(ids);
  // All share the frozen millisecond; the counter makes the order.
  const msPart = (1_700_000_000_000).toString(36).padStart(9, "0");
  assert.ok(ids.every((id) => id.startsWith(msPart)));
  assert.equal(ids[0].slice(9, 13), "0000");
  assert.equal(ids[9_999].slice(9, 13), (9_999).toString(36).padStart(4, "0"));
});

Deno.test("monotonicIdFactory: a clock going backwards does not break the order", () => {
  const times = [5_000, 4_000, 6_000, 6_000, 1_000, 7_000];
  let i = 0;
  const make = monotonicIdFactory(() => times[i++]);
  const ids = times.map(() => make());
  assertUniqueSortedFixedLength(ids);
});

Deno.test("monotonicIdFactory: ids of later milliseconds sort after earlier ones", () => {
  let now = 1_000;
  const make = monotonicIdFactory(() => now);
  const a = make();
  now = 1_001;
  const b = make();
  assert.ok(a < b);
  assert.equal(b.slice(9, 13), "0000", "the counter restarts each millisecond");
  // Ids of another generator sort by their millisecond.
  const other = monotonicIdFactory(() => 999)();
  assert.ok(other < a);
});
