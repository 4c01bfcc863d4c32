import assert from "node:assert/strict";
import { DurableQueue, type QueuedItem } from "./durable_queue.ts";
import { type Gate, listGates } from "./queue_gates.ts";
import { monotonicId } from "./monotonic_id.ts";
import { WriteBatch } from "./write_batch.ts";
import { withKv } from "./_test_kv.ts";

type Job = { key: string };

/** Gate per key, limit `limit`. */
const byKey = (limit: number) => (it: QueuedItem<Job>): Gate[] => [
  { name: `k:${it.value.key}`, limit },
];

async function appendKeys(
  kv: Deno.Kv,
  q: DurableQueue<Job>,
  queue: string,
  keys: string[],
) {
  const items = keys.map((key) => ({ id: monotonicId(), value: { key } }));
  assert.ok((await q.append(new WriteBatch(kv), queue, items).commit()).ok);
}

/** Leases what the gates let through, as one consumer does. */
async function leaseGated(
  kv: Deno.Kv,
  q: DurableQueue<Job>,
  queue: string,
  gates: (it: QueuedItem<Job>) => Gate[],
  max = 100,
) {
  const entries = await q.head(queue, 100);
  const pick = await q.pickGated(entries, gates, max);
  const batch = new WriteBatch(kv);
  const items = q.leaseInto(batch, pick.take, pick.holds);
  const ok = (await batch.commit()).ok;
  return { ok, items: ok ? items : [], pick };
}

Deno.test("queue gates: a full gate holds its items back in order while other gates' items go by", () =>
  withKv(async (kv) => {
    const q = new DurableQueue<Job>(kv);
    await appendKeys(kv, q, "q", ["a", "a", "b", "a", "c", "b"]);
    const first = await leaseGated(kv, q, "q", byKey(1));
    assert.ok(first.ok);
    assert.deepEqual(first.items.map((i) => i.value.key), ["a", "b", "c"]);
    assert.equal(first.pick.blocked, 3);
    assert.deepEqual(Object.fromEntries(first.pick.waiting), {
      "k:a": 2,
      "k:b": 1,
    });
    assert.deepEqual(
      Object.fromEntries(
        [...await q.gateCounts(["k:a", "k:b", "k:c"])].map((
          [n, c],
        ) => [n, c.held]),
      ),
      { "k:a": 1, "k:b": 1, "k:c": 1 },
    );
    // Nothing more while they are held.
    assert.deepEqual((await leaseGated(kv, q, "q", byKey(1))).items, []);
    // The ack gives the gate back in its own atomic: the next "a" goes.
    const a = first.items[0];
    assert.ok((await q.ack(new WriteBatch(kv), a).commit()).ok);
    const second = await leaseGated(kv, q, "q", byKey(1));
    assert.deepEqual(second.items.map((i) => i.value.key), ["a"]);
    // The second "a" leased is the older of the two left.
    const ids = second.items.map((i) => i.id);
    const waitingA = (await q.head("q", 10)).map((e) => e.value);
    assert.ok(waitingA.every((w) => w.id > ids[0]));
    assert.equal((await q.gateCounts(["k:a"])).get("k:a")!.held, 1);
  }));

Deno.test("queue gates: retry, dead letter, discard and release give gates back", () =>
  withKv(async (kv) => {
    const q = new DurableQueue<Job>(kv);
    await appendKeys(kv, q, "q", ["a", "b", "c", "d"]);
    const { items } = await leaseGated(kv, q, "q", byKey(1));
    assert.equal(items.length, 4);
    const [a, b, c, d] = items;
    const batch = new WriteBatch(kv);
    q.retry(batch, a, 60_000);
    q.deadLetter(batch, b, "no");
    q.discard(batch, c);
    assert.ok((await batch.commit()).ok);
    assert.equal(await q.release([d]), 1);
    const counts = await q.gateCounts(["k:a", "k:b", "k:c", "k:d"]);
    assert.deepEqual([...counts.values()].map((c) => c.held), [0, 0, 0, 0]);
    // Neither the delayed item nor the dead letter keeps its gates.
    const letter = (await q.listDead("q")).letters[0];
    assert.equal(letter.item.gates, undefined);
    // The released item is leased again under its gate.
    const again = await leaseGated(kv, q, "q", byKey(1));
    assert.deepEqual(again.items.map((i) => i.value.key), ["d"]);
  }));

Deno.test("queue gates: an expired lease gives its gates back with its item", () =>
  withKv(async (kv) => {
    let now = 1_000_000;
    const q = new DurableQueue<Job>(kv, ["queue"], {
      leaseMs: 1_000,
      now: () => now,
    });
    await appendKeys(kv, q, "q", ["a", "a"]);
    const { items } = await leaseGated(kv, q, "q", byKey(1));
    assert.equal(items.length, 1);
    // The consumer died: nothing more is leased until its lease expires.
    now += 999;
    assert.equal(await q.recoverExpired(), 0);
    assert.deepEqual((await leaseGated(kv, q, "q", byKey(1))).items, []);
    now += 2;
    assert.equal(await q.recoverExpired(), 1);
    assert.equal((await q.gateCounts(["k:a"])).get("k:a")!.held, 0);
    // The first "a" comes back first, and alone.
    const next = await leaseGated(kv, q, "q", byKey(1));
    assert.deepEqual(next.items.map((i) => i.id), [items[0].id]);
    // The holder that died cannot acknowledge (its lease was taken back),
    // so the gate is not given back twice.
    assert.equal(
      (await q.ack(new WriteBatch(kv), items[0]).commit()).ok,
      false,
    );
    assert.equal((await q.gateCounts(["k:a"])).get("k:a")!.held, 1);
  }));

Deno.test("queue gates: two consumers that read the same free slot cannot both take it", () =>
  withKv(async (kv) => {
    const one = new DurableQueue<Job>(kv);
    const two = new DurableQueue<Job>(kv);
    await appendKeys(kv, one, "q", ["a", "a"]);
    // Both read the head and the gate before either commits.
    const [e1, e2] = await Promise.all([one.head("q", 1), two.head("q", 2)]);
    const p1 = await one.pickGated(e1, byKey(1), 10);
    // The second consumer looks past the first item (as if another gate
    // had held it) at the second "a".
    const p2 = await two.pickGated(e2.slice(1), byKey(1), 10);
    const b1 = new WriteBatch(kv);
    one.leaseInto(b1, p1.take, p1.holds);
    const b2 = new WriteBatch(kv);
    two.leaseInto(b2, p2.take, p2.holds);
    assert.ok((await b1.commit()).ok);
    assert.equal((await b2.commit()).ok, false);
    assert.equal((await one.gateCounts(["k:a"])).get("k:a")!.held, 1);
  }));

Deno.test("queue gates: limits of 0, below 0, not whole, and names over the longest are refused", () =>
  withKv(async (kv) => {
    const q = new DurableQueue<Job>(kv);
    await appendKeys(kv, q, "q", ["a"]);
    const entries = await q.head("q", 1);
    for (const limit of [0, -1, 1.5, NaN, Infinity]) {
      await assert.rejects(
        q.pickGated(entries, () => [{ name: "g", limit }], 1),
        /Invalid limit .* of gate "g": use a whole number of at least 1/,
      );
    }
    await assert.rejects(
      q.pickGated(entries, () => [{ name: "x".repeat(2000), limit: 1 }], 1),
      /Gate name of 2000 characters: at most 1024/,
    );
  }));

Deno.test("queue gates: dropping a queue gives back the gates of its items in flight", () =>
  withKv(async (kv) => {
    const q = new DurableQueue<Job>(kv);
    await appendKeys(kv, q, "q", ["a", "b"]);
    const { items } = await leaseGated(kv, q, "q", (it) => [
      { name: `k:${it.value.key}`, limit: 1 },
      { name: "shared", limit: 5 },
    ]);
    assert.equal(items.length, 2);
    assert.equal((await q.gateCounts(["shared"])).get("shared")!.held, 2);
    await q.drop("q");
    const counts = await q.gateCounts(["k:a", "k:b", "shared"]);
    assert.deepEqual([...counts.values()].map((c) => c.held), [0, 0, 0]);
  }));

Deno.test("listGates: the held gates of a prefix, in name order; released counters skipped; bounded", async () => {
  await withKv(async (kv) => {
    const keyOf = (n: string) => ["queue", "gate", n];
    const op = kv.atomic();
    op.sum(keyOf("t/p/e/ev=b"), 2n);
    op.sum(keyOf("t/p/e/ev=a"), 1n);
    op.sum(keyOf("t/p/e/ev=\u{1F600}"), 1n);
    op.sum(keyOf("t/p/e/ev!"), 1n);
    op.sum(keyOf("t/p/e/ev=gone"), 0n); // released: back at 0
    op.sum(keyOf("t/p/e/ew=x"), 1n); // another prefix
    op.sum(keyOf("t/p/e/e"), 1n); // before it
    assert.ok((await op.commit()).ok);
    const all = await listGates(kv, keyOf, "t/p/e/ev");
    assert.deepEqual(all, {
      gates: [
        { name: "t/p/e/ev!", held: 1 },
        { name: "t/p/e/ev=a", held: 1 },
        { name: "t/p/e/ev=b", held: 2 },
        { name: "t/p/e/ev=\u{1F600}", held: 1 },
      ],
      truncated: false,
    });
    const two = await listGates(kv, keyOf, "t/p/e/ev", { max: 2 });
    assert.equal(two.gates.length, 2);
    assert.equal(two.truncated, true);
    // Released counters count against the scan, not the list.
    const scanned = await listGates(kv, keyOf, "t/p/e/ev", { scan: 3 });
    assert.equal(scanned.truncated, true);
  });
});
