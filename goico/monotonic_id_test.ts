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

Deno.test("monotonicIdFactory: the parts are written as base-36 digits, padded", () => {
  const values = [1, 35, 36, 1_700_000_000_000, 36 ** 9 - 1];
  for (const ms of values) {
    const id = monotonicIdFactory(() => ms)();
    assert.equal(id.slice(0, 9), ms.toString(36).padStart(9, "0"), `${ms}`);
    assert.equal(id.slice(9, 13), "0000");
    assert.match(id.slice(13), /^[0-9a-z]{6}$/);
  }
  // A millisecond written once is written again right after another.
  let now = 1_000;
  const make = monotonicIdFactory(() => now);
  const first = make();
  now = 2_000;
  const second = make();
  now = 1_000; // backwards: stays at 2000
  const third = make();
  assert.equal(first.slice(0, 9), (1_000).toString(36).padStart(9, "0"));
  assert.equal(second.slice(0, 9), (2_000).toString(36).padStart(9, "0"));
  assert.equal(third.slice(0, 13), second.slice(0, 9) + "0001");
});

Deno.test("monotonicIdFactory: a clock out of range is written as before", () => {
  const big = 36 ** 9 + 5;
  const id = monotonicIdFactory(() => big)();
  assert.equal(id.slice(0, 10), big.toString(36));
  assert.equal(id.length, 20);
});
