import assert from "node:assert/strict";
import { DurableQueue, type QueuedItem } from "./durable_queue.ts";
import { monotonicIdFactory } from "./monotonic_id.ts";
import { byPriority, effectiveBand, type Priority } from "./queue_priority.ts";
import { WriteBatch } from "./write_batch.ts";

type Job = { n: number; p?: Priority };

async function withQueue(
  fn: (
    q: DurableQueue<Job>,
    kv: Deno.Kv,
    clock: { t: number },
    newId: () => string,
  ) => Promise<void>,
  agingMs = 10_000,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = { t: 1_000_000 };
  const q = new DurableQueue<Job>(kv, ["q"], {
    now: () => clock.t,
    priorityOf: (v) => v.p,
    agingMs,
  });
  try {
    await fn(q, kv, clock, monotonicIdFactory(() => clock.t));
  } finally {
    kv.close();
  }
}

async function add(
  q: DurableQueue<Job>,
  kv: Deno.Kv,
  newId: () => string,
  jobs: Job[],
): Promise<void> {
  const batch = new WriteBatch(kv);
  q.append(batch, "a", jobs.map((value) => ({ id: newId(), value })));
  assert.ok((await batch.commit()).ok);
}

const ns = (items: QueuedItem<Job>[]) => items.map((it) => it.value.n);

Deno.test("effectiveBand: rises one level per agingMs waited, up to high", () => {
  assert.equal(effectiveBand(2, 0, 9_999, 10_000), 2);
  assert.equal(effectiveBand(2, 0, 10_000, 10_000), 1);
  assert.equal(effectiveBand(2, 0, 20_000, 10_000), 0);
  assert.equal(effectiveBand(2, 0, 1e12, 10_000), 0);
  assert.equal(effectiveBand(1, 0, 10_000, 10_000), 0);
  // A clock that went back does not lower a level.
  assert.equal(effectiveBand(2, 5_000, 0, 10_000), 2);
});

Deno.test("byPriority: lowest effective band first, then the older id", () => {
  const order = byPriority(
    [
      { band: 0, entries: [{ id: "c", t: 100 }, { id: "d", t: 100 }] },
      { band: 2, entries: [{ id: "a", t: 0 }, { id: "e", t: 100 }] },
      { band: 1, entries: [{ id: "b", t: 50 }] },
    ],
    (e) => e.t,
    (e) => e.id,
    100,
    60,
  );
  // "a" waited 100 ms: band 2 - 1 = 1, ahead of "b" (same level, older id).
  assert.deepEqual(order.map((e) => e.id), ["c", "d", "a", "b", "e"]);
});

Deno.test("DurableQueue priorities: high before older normal before older low, FIFO within each", () =>
  withQueue(async (q, kv, clock, newId) => {
    await add(q, kv, newId, [{ n: 1, p: "low" }, { n: 2, p: "low" }]);
    clock.t += 1;
    await add(q, kv, newId, [{ n: 3 }, { n: 4, p: "normal" }]);
    clock.t += 1;
    await add(q, kv, newId, [{ n: 5, p: "high" }, { n: 6, p: "high" }]);
    assert.deepEqual(ns(await q.lease("a", 3)), [5, 6, 3]);
    assert.deepEqual(ns(await q.lease("a", 10)), [4, 1, 2]);
    assert.deepEqual(await q.lease("a", 10), []);
    const ready = await Array.fromAsync(kv.list({ prefix: ["q", "ready"] }));
    assert.equal(ready.length, 0);
  }));

Deno.test("DurableQueue priorities: items queued before priorities (no band) lease as normal", () =>
  withQueue(async (q, kv, clock, newId) => {
    // The layout of a queue without priorities: the same keys as normal.
    const plain = new DurableQueue<Job>(kv, ["q"], { now: () => clock.t });
    const batch = new WriteBatch(kv);
    plain.append(batch, "a", [{ id: newId(), value: { n: 1 } }]);
    assert.ok((await batch.commit()).ok);
    clock.t += 1;
    await add(q, kv, newId, [{ n: 2, p: "low" }, { n: 3, p: "high" }]);
    assert.deepEqual(ns(await q.lease("a", 10)), [3, 1, 2]);
  }));

Deno.test("DurableQueue priorities: the aging bound — after 2 × agingMs no later high item passes a low one", () =>
  withQueue(async (q, kv, clock, newId) => {
    await add(q, kv, newId, [{ n: 0, p: "low" }]);
    // A flood of high items keeps coming, one lease a second.
    const order: number[] = [];
    let n = 1;
    for (let s = 0; s < 40 && !order.includes(0); s++) {
      clock.t += 1_000;
      await add(q, kv, newId, [{ n: n++, p: "high" }, { n: n++, p: "high" }]);
      const got = await q.lease("a", 1);
      for (const it of got) {
        order.push(it.value.n);
        const b = new WriteBatch(kv);
        q.ack(b, it);
        assert.ok((await b.commit()).ok);
      }
    }
    // Leased at the first lease at or after 20 s of waiting (2 levels ×
    // 10 s): once at the top level, its older id goes first.
    assert.equal(order.indexOf(0), 19);
    // Until then only high items ran, in their order.
    assert.deepEqual(
      order.slice(0, 19),
      [...Array(19).keys()].map((i) => i + 1),
    );
  }));

Deno.test("DurableQueue priorities: a normal item ages to high after 1 × agingMs", () =>
  withQueue(async (q, kv, clock, newId) => {
    await add(q, kv, newId, [{ n: 1 }]);
    clock.t += 9_999;
    await add(q, kv, newId, [{ n: 2, p: "high" }]);
    assert.deepEqual(ns(await q.lease("a", 1)), [2]);
    clock.t += 1;
    await add(q, kv, newId, [{ n: 3, p: "high" }]);
    assert.deepEqual(ns(await q.lease("a", 1)), [1]);
  }));

Deno.test("DurableQueue priorities: a delayed item ages from when it falls due, and keeps its band through a retry and a lapse", () =>
  withQueue(async (q, kv, clock, newId) => {
    const b = new WriteBatch(kv);
    q.appendDelayed(
      b,
      "a",
      [{ id: newId(), value: { n: 1, p: "low" } }],
      clock.t + 60_000,
    );
    assert.ok((await b.commit()).ok);
    clock.t += 60_000;
    assert.equal(await q.promoteDue(), 1);
    await add(q, kv, newId, [{ n: 2 }]);
    // Due just now: still low, behind the normal item.
    const [normal] = await q.lease("a", 1);
    assert.equal(normal.value.n, 2);
    const done = new WriteBatch(kv);
    q.ack(done, normal);
    assert.ok((await done.commit()).ok);
    const [low] = await q.lease("a", 1);
    assert.equal(low.value.n, 1);
    const r = new WriteBatch(kv);
    q.retry(r, low, 0);
    assert.ok((await r.commit()).ok);
    assert.equal(await q.promoteDue(), 1);
    await add(q, kv, newId, [{ n: 3, p: "high" }]);
    const [high, again] = await q.lease("a", 2);
    assert.deepEqual([high.value.n, again.value.n], [3, 1]);
    // A lease that lapses puts it back in its band.
    clock.t += q.leaseMs + 1;
    assert.equal(await q.recoverExpired(), 2);
    assert.deepEqual(ns(await q.lease("a", 2)), [3, 1]);
    const keys = await Array.fromAsync(kv.list({ prefix: ["q", "inflight"] }));
    assert.equal(keys.length, 2);
  }));

Deno.test("DurableQueue priorities: cancel finds an item in any band; drop removes every band", () =>
  withQueue(async (q, kv, _clock, newId) => {
    const ids = [newId(), newId(), newId()];
    const b = new WriteBatch(kv);
    q.append(b, "a", [
      { id: ids[0], value: { n: 1, p: "high" } },
      { id: ids[1], value: { n: 2, p: "low" } },
      { id: ids[2], value: { n: 3 } },
    ]);
    assert.ok((await b.commit()).ok);
    assert.equal((await q.cancel("a", ids[1])).state, "waiting");
    assert.equal((await q.cancel("a", ids[0])).state, "waiting");
    assert.equal((await q.cancel("a", ids[0])).state, "missing");
    assert.equal(await q.backlog("a"), 1);
    assert.equal((await q.stats("a")).depth, 1);
    await add(q, kv, newId, [{ n: 4, p: "low" }, { n: 5, p: "high" }]);
    await q.drop("a");
    const left = await Array.fromAsync(kv.list({ prefix: ["q", "ready"] }));
    assert.equal(left.length, 0);
  }));

Deno.test("DurableQueue priorities: two queues on one store (two processes) lease in the same order", () =>
  withQueue(async (q, kv, clock, newId) => {
    const other = new DurableQueue<Job>(kv, ["q"], {
      now: () => clock.t,
      priorityOf: (v) => v.p,
      agingMs: 10_000,
    });
    await add(q, kv, newId, [{ n: 1, p: "low" }, { n: 2 }]);
    await add(other, kv, newId, [{ n: 3, p: "high" }]);
    assert.deepEqual(ns(await other.lease("a", 1)), [3]);
    assert.deepEqual(ns(await q.lease("a", 1)), [2]);
    assert.deepEqual(ns(await other.lease("a", 1)), [1]);
  }));

Deno.test("DurableQueue priorities: agingMs must be above 0", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (const agingMs of [0, -1, NaN, Infinity]) {
      assert.throws(
        () => new DurableQueue<Job>(kv, ["q"], { agingMs }),
        /Invalid agingMs/,
      );
    }
  } finally {
    kv.close();
  }
});
