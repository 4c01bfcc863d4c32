import assert from "node:assert/strict";
import {
  DurableQueue,
  type DurableQueueOptions,
  MAX_ITEM_BYTES,
  type QueuedItem,
} from "./durable_queue.ts";
import { jsonRecords, type RecordCodec, v8Records } from "./record_codec.ts";
import { monotonicId } from "./monotonic_id.ts";
import { KvLimitError, WriteBatch } from "./write_batch.ts";
import { withKv } from "./_test_kv.ts";

type Job = { n: number };

function items(...ns: number[]): { id: string; value: Job }[] {
  return ns.map((n) => ({ id: monotonicId(), value: { n } }));
}

/** Items waiting and leased. */
async function waiting(q: DurableQueue<Job>, queue: string) {
  const { depth, inFlight } = await q.stats(queue);
  return { depth, inFlight };
}

/** Every test runs for each way of storing records. */
const CODECS: [string, RecordCodec][] = [["v8", v8Records], [
  "json",
  jsonRecords,
]];

for (const [codecName, codec] of CODECS) {
  /** A queue storing its records with this run's codec. */
  const queueOn = <T>(
    kv: Deno.Kv,
    prefix: Deno.KvKey = ["queue"],
    options: DurableQueueOptions = {},
  ) => new DurableQueue<T>(kv, prefix, { ...options, codec });

  Deno.test(`DurableQueue (${codecName}): items appended in an atomic are leased in id order`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      const first = items(1, 2, 3);
      const second = items(4, 5);
      assert.ok((await q.append(new WriteBatch(kv), "q", first).commit()).ok);
      assert.ok((await q.append(new WriteBatch(kv), "q", second).commit()).ok);

      const leased = await q.lease("q", 10);
      assert.deepEqual(leased.map((i) => i.value.n), [1, 2, 3, 4, 5]);
      assert.deepEqual(
        leased.map((i) => i.id),
        [...first, ...second].map((i) => i.id),
      );
      for (const item of leased) {
        assert.equal(item.queue, "q");
        assert.equal(item.attempt, 1);
        assert.equal(typeof item.enqueuedAt, "number");
      }
      // Everything is leased: nothing more to hand out.
      assert.deepEqual(await q.lease("q", 10), []);
    }));

  Deno.test(`DurableQueue (${codecName}): the append is part of the caller's atomic`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await kv.set(["record"], "v1");
      const stale = await kv.get(["record"]);
      await kv.set(["record"], "v2");

      // The check fails, so neither the record nor the items are written.
      const op = new WriteBatch(kv).check(stale).set(["record"], "v3");
      const res = await q.append(op, "q", items(1, 2)).commit();
      assert.equal(res.ok, false);
      assert.equal((await kv.get(["record"])).value, "v2");
      assert.deepEqual(await waiting(q, "q"), { depth: 0, inFlight: 0 });
      assert.deepEqual(await q.lease("q", 10), []);
      assert.deepEqual(await q.activeQueues(), []);

      // Committed together with the record: both exist.
      const fresh = await kv.get(["record"]);
      const op2 = new WriteBatch(kv).check(fresh).set(["record"], "v3");
      assert.ok((await q.append(op2, "q", items(7)).commit()).ok);
      assert.equal((await kv.get(["record"])).value, "v3");
      assert.deepEqual((await q.lease("q", 10)).map((i) => i.value.n), [7]);
    }));

  Deno.test(`DurableQueue (${codecName}): lease hands out at most max items from the head`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1, 2, 3, 4, 5)).commit();

      assert.deepEqual((await q.lease("q", 2)).map((i) => i.value.n), [1, 2]);
      assert.deepEqual(await waiting(q, "q"), { depth: 3, inFlight: 2 });
      assert.deepEqual((await q.lease("q", 2)).map((i) => i.value.n), [3, 4]);
      assert.deepEqual((await q.lease("q", 2)).map((i) => i.value.n), [5]);
      assert.deepEqual(await q.lease("q", 2), []);
      assert.deepEqual(await waiting(q, "q"), { depth: 0, inFlight: 5 });
    }));

  Deno.test(`DurableQueue (${codecName}): ack in an atomic removes the leased item`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      const [a, b] = await q.lease("q", 2);

      assert.ok(
        (await q.ack(new WriteBatch(kv).set(["outcome", a.id], "done"), a)
          .commit())
          .ok,
      );
      assert.equal((await kv.get(["outcome", a.id])).value, "done");
      assert.deepEqual(await waiting(q, "q"), { depth: 0, inFlight: 1 });

      // An ack whose atomic fails leaves the item leased.
      const op = new WriteBatch(kv).check({
        key: ["outcome", a.id],
        versionstamp: null,
      });
      assert.equal((await q.ack(op, b).commit()).ok, false);
      assert.deepEqual(await waiting(q, "q"), { depth: 0, inFlight: 1 });

      assert.ok((await q.ack(new WriteBatch(kv), b).commit()).ok);
      assert.deepEqual(await waiting(q, "q"), { depth: 0, inFlight: 0 });
    }));

  Deno.test(`DurableQueue (${codecName}): an expired lease is put back in order with attempt 2`, () =>
    withKv(async (kv) => {
      let clock = 1_000_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => clock,
      });
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      const leased = await q.lease("q", 1);
      assert.deepEqual(leased.map((i) => i.value.n), [1]);
      await q.append(new WriteBatch(kv), "q", items(3)).commit();

      // Not expired yet: nothing moves.
      clock += 100 - 1;
      assert.equal(await q.recoverExpired(), 0);
      assert.deepEqual(await waiting(q, "q"), { depth: 2, inFlight: 1 });

      clock += 1;
      assert.equal(await q.recoverExpired(), 1);
      assert.deepEqual(await waiting(q, "q"), { depth: 3, inFlight: 0 });

      const again = await q.lease("q", 10);
      assert.deepEqual(again.map((i) => i.value.n), [1, 2, 3]);
      assert.deepEqual(again.map((i) => i.attempt), [2, 1, 1]);
      assert.equal(again[0].id, leased[0].id);
      assert.equal(again[0].enqueuedAt, leased[0].enqueuedAt);
      assert.ok(!("leaseUntil" in again[0]));

      // A second expiry raises the attempt again.
      clock += 1000;
      assert.equal(await q.recoverExpired(), 3);
      assert.deepEqual(
        (await q.lease("q", 10)).map((i) => [i.value.n, i.attempt]),
        [[1, 3], [2, 2], [3, 2]],
      );
    }));

  Deno.test(`DurableQueue (${codecName}): retireIfEmpty only retires a queue with no items`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      assert.deepEqual(await q.activeQueues(), ["q"]);
      assert.equal(await q.retireIfEmpty("q"), false);

      const leased = await q.lease("q", 10);
      // Leased but not acknowledged: still not empty.
      assert.equal(await q.retireIfEmpty("q"), false);
      assert.deepEqual(await q.activeQueues(), ["q"]);

      await q.ack(new WriteBatch(kv), leased[0]).commit();
      assert.equal(await q.retireIfEmpty("q"), false);
      await q.ack(new WriteBatch(kv), leased[1]).commit();
      assert.equal(await q.retireIfEmpty("q"), true);
      assert.deepEqual(await q.activeQueues(), []);

      // Appending again makes it active again.
      await q.append(new WriteBatch(kv), "q", items(3)).commit();
      assert.deepEqual(await q.activeQueues(), ["q"]);
    }));

  Deno.test(`DurableQueue (${codecName}): activeQueues and stats per queue; queues are independent`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      assert.deepEqual(await q.activeQueues(), []);
      await q.append(new WriteBatch(kv), "alpha", items(1, 2, 3)).commit();
      await q.append(new WriteBatch(kv), "beta", items(10)).commit();
      assert.deepEqual((await q.activeQueues()).sort(), ["alpha", "beta"]);

      assert.deepEqual(await waiting(q, "alpha"), { depth: 3, inFlight: 0 });
      assert.deepEqual(await waiting(q, "beta"), { depth: 1, inFlight: 0 });
      assert.deepEqual(await waiting(q, "gamma"), { depth: 0, inFlight: 0 });

      const fromBeta = await q.lease("beta", 10);
      assert.deepEqual(fromBeta.map((i) => [i.queue, i.value.n]), [[
        "beta",
        10,
      ]]);
      assert.deepEqual(await waiting(q, "alpha"), { depth: 3, inFlight: 0 });
      assert.deepEqual(await waiting(q, "beta"), { depth: 0, inFlight: 1 });

      const fromAlpha = await q.lease("alpha", 1);
      assert.deepEqual(fromAlpha.map((i) => i.value.n), [1]);
      assert.deepEqual(await waiting(q, "alpha"), { depth: 2, inFlight: 1 });

      await q.ack(new WriteBatch(kv), fromBeta[0]).commit();
      assert.equal(await q.retireIfEmpty("beta"), true);
      assert.equal(await q.retireIfEmpty("alpha"), false);
      assert.deepEqual(await q.activeQueues(), ["alpha"]);
    }));

  Deno.test(`DurableQueue (${codecName}): different prefixes do not share items`, () =>
    withKv(async (kv) => {
      const a = queueOn<Job>(kv, ["qa"]);
      const b = queueOn<Job>(kv, ["qb"]);
      await a.append(new WriteBatch(kv), "q", items(1)).commit();
      assert.deepEqual(await b.lease("q", 10), []);
      assert.deepEqual(await b.activeQueues(), []);
      assert.deepEqual((await a.lease("q", 10)).map((i) => i.value.n), [1]);
    }));

  Deno.test(`DurableQueue (${codecName}): append and recovery bump the change feed key`, () =>
    withKv(async (kv) => {
      let clock = 0;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 10,
        now: () => clock,
      });
      const v0 = (await kv.get(q.feed.key)).versionstamp;
      assert.equal(v0, null);
      await q.append(new WriteBatch(kv), "q", items(1)).commit();
      const v1 = (await kv.get(q.feed.key)).versionstamp;
      assert.notEqual(v1, null);
      await q.lease("q", 1);
      clock += 10;
      assert.equal(await q.recoverExpired(), 1);
      const v2 = (await kv.get(q.feed.key)).versionstamp;
      assert.ok(v2 !== null && v1 !== null && v2 > v1);
    }));

  Deno.test(`DurableQueue (${codecName}): renewed leases do not expire; lapsed ones go to the next consumer and stay theirs`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      assert.ok(
        (await q.append(new WriteBatch(kv), "q", items(1, 2)).commit()).ok,
      );
      const mine = await q.lease("q", 10);
      now += 80;
      assert.equal(await q.renew(mine), 2);
      now += 80; // 160 ms after the lease, 80 after the renewal: still held.
      assert.equal(await q.recoverExpired(), 0);
      // One is acknowledged; the other lapses and is delivered again.
      assert.ok((await q.ack(new WriteBatch(kv), mine[0]).commit()).ok);
      now += 200;
      assert.equal(await q.recoverExpired(), 1);
      const theirs = await q.lease("q", 10);
      assert.deepEqual(theirs.map((i) => [i.value.n, i.attempt]), [[2, 2]]);
      // The first consumer's late renewal does not take the item back.
      assert.equal(await q.renew(mine), 0);
      assert.equal(await q.renew(theirs), 1);
    }));

  Deno.test(`DurableQueue (${codecName}): a whole batch is renewed, and handed back unhandled in order`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      const ns = Array.from({ length: 150 }, (_, i) => i);
      for (let i = 0; i < ns.length; i += 50) {
        const op = q.append(
          new WriteBatch(kv),
          "q",
          items(...ns.slice(i, i + 50)),
        );
        assert.ok((await op.commit()).ok);
      }
      // A read names at most 10 keys: a batch of 64 is read in parts.
      const first = await q.lease("q", 64);
      const second = await q.lease("q", 64);
      now += 80;
      assert.equal(await q.renew([...first, ...second]), 128);
      now += 80;
      assert.equal(await q.recoverExpired(), 0);
      // The second batch goes back before the rest, as first deliveries.
      assert.equal(await q.release(second), 64);
      assert.equal(await q.release(second), 0);
      const next = await q.lease("q", 100);
      assert.deepEqual(
        next.map((i) => i.value.n),
        ns.slice(64, 150).slice(0, 86),
      );
      assert.ok(next.every((i) => i.attempt === 1));
      // A lease that lapsed and went to someone else is not handed back.
      now += 200;
      assert.equal(await q.recoverExpired(), 64 + 86);
      assert.equal(await q.release(first), 0);
    }));

  Deno.test(`DurableQueue (${codecName}): activity tells which queues got items since it was last read`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "a", items(1, 2)).commit();
      await q.append(new WriteBatch(kv), "b", items(3)).commit();
      const before = await q.activity();
      assert.deepEqual([...before.keys()], ["a", "b"]);
      // Leasing and acknowledging leave the markers; an append changes its queue's.
      const [one] = await q.lease("a", 1);
      await q.ack(new WriteBatch(kv), one).commit();
      assert.deepEqual(await q.activity(), before);
      await q.append(new WriteBatch(kv), "b", items(4)).commit();
      const after = await q.activity();
      assert.equal(after.get("a"), before.get("a"));
      assert.notEqual(after.get("b"), before.get("b"));
    }));

  Deno.test(`DurableQueue (${codecName}): head and leaseInto lease inside the caller's atomic`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      assert.ok(
        (await q.append(new WriteBatch(kv), "q", items(1, 2, 3)).commit()).ok,
      );
      const head = await q.head("q", 2);
      const op = new WriteBatch(kv).set(["other"], 1);
      const leased = q.leaseInto(op, head);
      assert.deepEqual(leased.map((i) => i.value.n), [1, 2]);
      // Taken meanwhile: the whole atomic is refused.
      const stolen = await q.lease("q", 1);
      assert.deepEqual(stolen.map((i) => i.value.n), [1]);
      assert.equal((await op.commit()).ok, false);
      assert.equal((await kv.get(["other"])).value, null);
      const again = new WriteBatch(kv);
      q.leaseInto(again, await q.head("q", 5));
      assert.ok((await again.commit()).ok);
      assert.deepEqual(await waiting(q, "q"), { depth: 0, inFlight: 3 });
    }));

  Deno.test(`DurableQueue (${codecName}): a lease writes the item as read, with its lease and gates`, () =>
    withKv(async (kv) => {
      const now = 1_000_000;
      const q = queueOn<{ n: number; text: string }>(kv, ["queue"], {
        now: () => now,
        leaseMs: 500,
      });
      const item = { id: monotonicId(), value: { n: 1, text: 'é 🎉 "}' } };
      await q.append(new WriteBatch(kv), "q", [item]).commit();
      const stored = {
        id: item.id,
        queue: "q",
        value: item.value,
        attempt: 1,
        failures: 0,
        enqueuedAt: now,
      };
      const inflight = async () =>
        codec.decode((await kv.get(["queue", "inflight", "q", item.id])).value);
      // Leased with a gate, refused (the gate's counter moved), then leased
      // again from the same entries without one: the item keeps the gate
      // the first lease gave it, as it always did.
      const head = await q.head("q", 1);
      const hold = {
        names: ["g"],
        checks: [{ key: ["elsewhere"], versionstamp: "00000000000000990000" }],
      };
      const refused = new WriteBatch(kv);
      q.leaseInto(refused, head, new Map([[head[0], hold]]));
      assert.equal((await refused.commit()).ok, false);
      const op = new WriteBatch(kv);
      assert.equal(q.leaseInto(op, head).length, 1);
      assert.ok((await op.commit()).ok);
      assert.deepEqual(await inflight(), {
        ...stored,
        gates: ["g"],
        leaseUntil: now + 500,
      });
      // Leased from fresh entries: the item as it was read, with its lease.
      await kv.delete(["queue", "inflight", "q", item.id]);
      await q.append(new WriteBatch(kv), "q", [item]).commit();
      const fresh = new WriteBatch(kv);
      q.leaseInto(fresh, await q.head("q", 1));
      assert.ok((await fresh.commit()).ok);
      assert.deepEqual(await inflight(), { ...stored, leaseUntil: now + 500 });
    }));

  Deno.test(`DurableQueue (${codecName}): counters give backlog, processed and dead in one read`, () =>
    withKv(async (kv) => {
      let now = 1_000_000;
      const q = queueOn<Job>(kv, ["queue"], { now: () => now });
      await q.append(new WriteBatch(kv), "q", items(1, 2, 3, 4)).commit();
      assert.equal(await q.backlog("q"), 4);
      const [a, b] = await q.lease("q", 2);
      now += 250;
      assert.deepEqual(await q.stats("q"), {
        depth: 2,
        inFlight: 2,
        delayed: 0,
        dead: 0,
        processed: 0,
        oldestAgeMs: 250,
      });
      // Two acks in one atomic: the counters add up.
      const op = new WriteBatch(kv);
      q.ack(op, a);
      q.ack(op, b);
      assert.ok((await op.commit()).ok);
      assert.equal(await q.backlog("q"), 2);
      assert.partialDeepStrictEqual(await q.stats("q"), {
        depth: 2,
        inFlight: 0,
        processed: 2,
      });
      assert.deepEqual(await q.queueNames(), ["q"]);
      assert.equal(await q.backlog("unknown"), 0);
    }));

  Deno.test(`DurableQueue (${codecName}): a retried item waits for its delay, then comes back first`, () =>
    withKv(async (kv) => {
      let now = 1_000_000;
      const q = queueOn<Job>(kv, ["queue"], { now: () => now });
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      const [first] = await q.lease("q", 1);
      assert.ok((await q.retry(new WriteBatch(kv), first, 500).commit()).ok);
      assert.partialDeepStrictEqual(await q.stats("q"), {
        depth: 2,
        inFlight: 0,
        delayed: 1,
      });
      assert.equal(await q.promoteDue(), 0, "not due yet");
      now += 500;
      assert.equal(await q.promoteDue(), 1);
      const again = await q.lease("q", 10);
      assert.deepEqual(again.map((i) => i.value.n), [1, 2]);
      assert.equal(again[0].attempt, 2);
      assert.equal(again[0].failures, 1);
      assert.equal(again[1].failures, 0);
      assert.equal(await q.backlog("q"), 2);
    }));

  Deno.test(`DurableQueue (${codecName}): a retry delay that is not a finite number is refused`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1)).commit();
      const [first] = await q.lease("q", 1);
      for (const bad of [NaN, Infinity, -1]) {
        assert.throws(
          () => q.retry(new WriteBatch(kv), first, bad),
          /Invalid retry delay .* of queue "q": use a finite number of 0 or more/,
        );
      }
      assert.deepEqual(
        await Array.fromAsync(kv.list({ prefix: ["queue", "delayed"] })),
        [],
      );
    }));

  Deno.test(`DurableQueue (${codecName}): items an earlier version parked under a NaN due time are put back`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1)).commit();
      const [first] = await q.lease("q", 1);
      // What `retry` wrote when the executor's delay was NaN.
      await new WriteBatch(kv)
        .delete(["queue", "inflight", "q", first.id])
        .set(["queue", "delayed", NaN, "q", first.id], {
          ...first,
          attempt: 2,
          failures: 1,
          dueAt: NaN,
        }).commit();
      // An earlier version wrote no due index for retries: stats counts a
      // queue's delayed items through it, so this one only once put back.
      assert.equal((await q.stats("q")).delayed, 0);
      assert.equal(await q.promoteDue(), 1);
      const [again] = await q.lease("q", 1);
      assert.deepEqual([again.id, again.attempt, again.failures], [
        first.id,
        2,
        1,
      ]);
      assert.equal((await q.stats("q")).delayed, 0);
    }));

  Deno.test(`DurableQueue (${codecName}): dead letters are listed, replayed by id or all, and purged`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1, 2, 3)).commit();
      const leased = await q.lease("q", 3);
      const op = new WriteBatch(kv);
      leased.forEach((it, i) => q.deadLetter(op, it, `boom ${i}`, `exec${i}`));
      assert.ok((await op.commit()).ok);
      assert.equal(await q.backlog("q"), 0);
      assert.partialDeepStrictEqual(await q.stats("q"), {
        depth: 0,
        inFlight: 0,
        dead: 3,
      });

      const page = await q.listDead("q", { limit: 2 });
      assert.deepEqual(
        page.letters.map((l) => [l.item.value.n, l.error, l.ref]),
        [
          [1, "boom 0", "exec0"],
          [2, "boom 1", "exec1"],
        ],
      );
      assert.ok(page.cursor);
      const rest = await q.listDead("q", { limit: 2, cursor: page.cursor });
      assert.deepEqual(rest.letters.map((l) => l.item.value.n), [3]);
      assert.equal(rest.cursor, null);

      // Replay one by id (an unknown id is skipped), then the rest.
      assert.deepEqual(await q.replayDead("q", [leased[1].id, "nope"]), [
        leased[1].id,
      ]);
      assert.partialDeepStrictEqual(await q.stats("q"), { depth: 1, dead: 2 });
      const back = await q.lease("q", 10);
      assert.deepEqual(back.map((i) => [i.value.n, i.failures, i.attempt]), [
        [2, 0, 2],
      ]);
      assert.equal(await q.purgeDead("q", [leased[0].id]), 1);
      assert.deepEqual(await q.replayDead("q"), [leased[2].id]);
      assert.equal(await q.purgeDead("q"), 0);
      assert.partialDeepStrictEqual(await q.stats("q"), { depth: 1, dead: 0 });
    }));

  Deno.test(`DurableQueue (${codecName}): queueNames lists the queues, or those whose name starts with a prefix`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      for (const name of ["b/x", "a/y", "a/x", "a.b/z", "ab/z", "a"]) {
        await q.append(new WriteBatch(kv), name, items(1)).commit();
      }
      assert.deepEqual(await q.queueNames(), [
        "a",
        "a.b/z",
        "a/x",
        "a/y",
        "ab/z",
        "b/x",
      ]);
      assert.deepEqual(await q.queueNames("a/"), ["a/x", "a/y"]);
      assert.deepEqual(await q.queueNames("c/"), []);
    }));

  Deno.test(`DurableQueue (${codecName}): an id given twice is replayed or purged once`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      const [a, b] = await q.lease("q", 2);
      const op = new WriteBatch(kv);
      q.deadLetter(op, a, "boom");
      q.deadLetter(op, b, "boom");
      assert.ok((await op.commit()).ok);
      assert.deepEqual(await q.replayDead("q", [a.id, a.id]), [a.id]);
      assert.equal(await q.purgeDead("q", [b.id, b.id]), 1);
      assert.partialDeepStrictEqual(await q.stats("q"), { depth: 1, dead: 0 });
      assert.equal(await q.backlog("q"), 1);
    }));

  Deno.test(`DurableQueue (${codecName}): drop removes one queue's waiting, in-flight, delayed and dead items and nothing of others`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "t1/a", items(1, 2, 3, 4)).commit();
      await q.append(new WriteBatch(kv), "t2/a", items(5)).commit();
      const [first, second, third] = await q.lease("t1/a", 3);
      await q.retry(new WriteBatch(kv), first, 60_000).commit();
      await q.deadLetter(new WriteBatch(kv), second, "boom").commit();
      assert.equal((await q.stats("t1/a")).inFlight, 1, String(third.id));
      assert.ok((await q.drop("t1/a")) > 0);
      const left = await Array.fromAsync(kv.list({ prefix: ["queue"] }));
      assert.ok(
        left.every((e) => !e.key.includes("t1/a")),
        JSON.stringify(left.map((e) => e.key)),
      );
      assert.equal((await q.stats("t2/a")).depth, 1);
    }));

  Deno.test(`DurableQueue (${codecName}): an acknowledgement whose lease was taken back is refused, and confirm says so`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      await q.append(new WriteBatch(kv), "q", items(1)).commit();
      const [stalled] = await q.lease("q", 1);
      // The consumer stalls past its lease; the item is delivered again.
      now += 100;
      assert.equal(await q.recoverExpired(), 1);
      const [again] = await q.lease("q", 1);
      assert.equal(again.attempt, 2);
      // The stalled consumer's outcome is not recorded, in any form.
      for (
        const write of [
          (op: WriteBatch) => q.ack(op, stalled),
          (op: WriteBatch) => q.retry(op, stalled, 10),
          (op: WriteBatch) => q.deadLetter(op, stalled, "late"),
        ]
      ) {
        const op = new WriteBatch(kv).set(["outcome", stalled.id], "stalled");
        assert.equal((await write(op).commit()).ok, false);
      }
      assert.equal((await kv.get(["outcome", stalled.id])).value, null);
      assert.deepEqual(await q.confirm([stalled]), [stalled]);
      // The new holder's is, once.
      assert.deepEqual(await q.confirm([again]), []);
      const op = new WriteBatch(kv).set(["outcome", again.id], "again");
      assert.ok((await q.ack(op, again).commit()).ok);
      assert.partialDeepStrictEqual(await q.stats("q"), {
        depth: 0,
        inFlight: 0,
        processed: 1,
      });
      assert.equal(await q.backlog("q"), 0);
    }));

  Deno.test(`DurableQueue (${codecName}): a lease taken back beside an item makes its ack confirm once, then commit`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      const [a] = await q.lease("q", 1);
      now += 60;
      const [b] = await q.lease("q", 1);
      now += 40; // a expired, b did not
      assert.equal(await q.recoverExpired(), 1);
      // b's lease is held, but the queue's epoch moved: one refusal...
      assert.equal((await q.ack(new WriteBatch(kv), b).commit()).ok, false);
      // ...then confirm holds it under the new epoch, and the ack commits.
      assert.deepEqual(await q.confirm([a, b]), [a]);
      assert.ok((await q.ack(new WriteBatch(kv), b).commit()).ok);
      // Items of another queue are not affected.
      await q.lease("q", 1); // a again
      now += 60;
      await q.append(new WriteBatch(kv), "other", items(3)).commit();
      const [c] = await q.lease("other", 1);
      now += 40;
      assert.equal(await q.recoverExpired(), 1); // a, not c
      assert.ok((await q.ack(new WriteBatch(kv), c).commit()).ok);
    }));

  Deno.test(`DurableQueue (${codecName}): an item acknowledged through another DurableQueue than the one that leased it is refused plainly`, () =>
    withKv(async (kv) => {
      const q = queueOn<Job>(kv);
      await q.append(new WriteBatch(kv), "q", items(1)).commit();
      const [item] = await q.lease("q", 1);
      const other = queueOn<Job>(kv);
      assert.throws(
        () => other.ack(new WriteBatch(kv), item),
        /Item "[0-9a-z]+" of queue "q" was not leased through this queue/,
      );
      assert.throws(
        () =>
          other.leaseInto(new WriteBatch(kv), [{
            key: ["x"],
            value: item,
            versionstamp: "0",
          }]),
        /was not read with head\(\)/,
      );
    }));

  Deno.test(`DurableQueue (${codecName}): an item that lapses is not failed; one that stops its consumer after start() is, with the lapse before`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      const expire = async () => {
        now += 100;
        return await q.recoverExpired();
      };
      // Both leased; the consumer dies: neither is to blame yet.
      await q.lease("q", 2);
      assert.equal(await expire(), 2);
      let [poison, innocent] = await q.lease("q", 2);
      assert.deepEqual(
        [poison, innocent].map((i) => [i.attempt, i.failures, i.lapses]),
        [[2, 0, 1], [2, 0, 1]],
      );
      // Each runs alone, marked started. The innocent one finishes.
      assert.equal(await q.start(innocent), true);
      assert.ok((await q.ack(new WriteBatch(kv), innocent).commit()).ok);
      // The poison one stops its consumer again: a crash, and the lapse too.
      assert.equal(await q.start(poison), true);
      assert.equal(await expire(), 1);
      [poison] = await q.lease("q", 1);
      assert.deepEqual(
        [poison.attempt, poison.failures, poison.crashes, poison.lapses],
        [3, 2, 2, 0],
      );
      // Once more: one more failure.
      assert.equal(await q.start(poison), true);
      assert.equal(await expire(), 1);
      [poison] = await q.lease("q", 1);
      assert.deepEqual(
        [poison.attempt, poison.failures, poison.crashes, poison.lapses],
        [4, 3, 3, 0],
      );
      // Dead-lettered and replayed: a fresh start, nothing counted.
      await q.deadLetter(new WriteBatch(kv), poison, "crash loop").commit();
      await q.replayDead("q");
      [poison] = await q.lease("q", 1);
      assert.deepEqual(
        [poison.failures, poison.crashes, poison.lapses],
        [0, undefined, undefined],
      );
      // A retry forgets lapses (the item ran to an outcome) but not crashes.
      assert.equal(await expire(), 1);
      [poison] = await q.lease("q", 1);
      assert.equal(poison.lapses, 1);
      await q.retry(new WriteBatch(kv), poison, 0).commit();
      await q.promoteDue();
      [poison] = await q.lease("q", 1);
      assert.deepEqual([poison.failures, poison.lapses], [1, undefined]);
    }));

  Deno.test(`DurableQueue (${codecName}): start refuses an item whose lease was taken back, and keeps the mark through renewals`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      await q.append(new WriteBatch(kv), "q", items(1, 2)).commit();
      const [a, b] = await q.lease("q", 2);
      assert.equal(await q.start(a), true);
      now += 80;
      assert.equal(await q.renew([a, b]), 2);
      now += 80;
      assert.equal(await q.recoverExpired(), 0);
      now += 100;
      assert.equal(await q.recoverExpired(), 2);
      assert.equal(await q.start(b), false);
      const back = await q.lease("q", 2);
      // a was started when its renewed lease expired: a crash; b only lapsed.
      assert.deepEqual(back.map((i) => [i.failures, i.lapses ?? 0]), [
        [1, 0],
        [0, 1],
      ]);
      // Handed back unhandled, the mark does not stay with the item.
      assert.equal(await q.start(back[0]), true);
      assert.equal(await q.release(back), 2);
      const ready = await Array.fromAsync(
        kv.list({ prefix: ["queue", "ready", "q"] }),
      );
      assert.equal(ready.length, 2);
      assert.ok(
        ready.every((e) => !("started" in (codec.decode(e.value) as object))),
      );
    }));

  Deno.test(`DurableQueue (${codecName}): a dead letter of the largest item keeps as much of a long error as fits`, () =>
    withKv(async (kv) => {
      const q = queueOn<{ s: string }>(kv);
      const value = { s: "x".repeat(MAX_ITEM_BYTES) };
      const id = monotonicId();
      while (q.itemBytes("q", { id, value }) > MAX_ITEM_BYTES) {
        value.s = value.s.slice(1);
      }
      await q.append(new WriteBatch(kv), "q", [{ id, value }]).commit();
      const [item] = await q.lease("q", 1);
      // A wide character makes the error take two bytes a character.
      const error = "€ " + "e".repeat(5_000);
      const op = q.deadLetter(new WriteBatch(kv), item, error, "ref");
      assert.ok((await op.commit()).ok);
      const [letter] = (await q.listDead("q")).letters;
      assert.ok(letter.error.length < error.length);
      assert.ok(letter.error.startsWith("€ eee"));
      assert.ok(letter.error.endsWith(" [cut to fit]"));
      assert.deepEqual(letter.item.value, value);
      // A short error is kept whole.
      await q.replayDead("q");
      const [again] = await q.lease("q", 1);
      await q.deadLetter(new WriteBatch(kv), again, "short", "ref").commit();
      assert.equal((await q.listDead("q")).letters[0].error, "short");
    }));

  Deno.test(`DurableQueue (${codecName}): a renewal that races with start() is read again, not lost`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<Job>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      await q.append(new WriteBatch(kv), "q", items(...Array(50).keys()))
        .commit();
      const leased = await q.lease("q", 50);
      // Marks land while renewals run, some between a read and its commit.
      for (const it of leased) {
        now += 10;
        const [renewed] = await Promise.all([q.renew(leased), q.start(it)]);
        assert.equal(renewed, 50);
      }
      now += 90; // past every lease but the last renewal
      assert.equal(await q.recoverExpired(), 0);
    }));

  Deno.test(`DurableQueue (${codecName}): expired leases of large items go back too, as many an atomic as fit`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<{ s: string }>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      // 30 items of 60 KB: 1.8 MB, more than one atomic may write.
      const big = Array.from({ length: 30 }, () => ({
        id: monotonicId(),
        value: { s: "x".repeat(60_000) },
      }));
      for (const it of big) {
        await q.append(new WriteBatch(kv), "q", [it]).commit();
      }
      for (let i = 0; i < 3; i++) {
        assert.equal((await q.lease("q", 10)).length, 10);
      }
      now += 100;
      assert.equal(await q.recoverExpired(), 30);
      const back = [];
      for (let i = 0; i < 3; i++) back.push(...await q.lease("q", 10));
      assert.deepEqual(back.map((i) => i.id), big.map((i) => i.id));
      assert.ok(back.every((i) => i.attempt === 2 && i.lapses === 1));
    }));

  Deno.test(`DurableQueue (${codecName}): leases of large items are renewed and handed back in as many atomics as fit`, () =>
    withKv(async (kv) => {
      let now = 1_000;
      const q = queueOn<{ s: string }>(kv, ["queue"], {
        leaseMs: 100,
        now: () => now,
      });
      // 40 items of 40 KB: 1.6 MB, twice what one atomic may write.
      const big = Array.from({ length: 40 }, () => ({
        id: monotonicId(),
        value: { s: "x".repeat(40_000) },
      }));
      for (const it of big) {
        await q.append(new WriteBatch(kv), "q", [it]).commit();
      }
      const leased: QueuedItem<{ s: string }>[] = [];
      while (leased.length < 40) leased.push(...await q.lease("q", 40));
      now += 60;
      assert.equal(await q.renew(leased), 40);
      now += 60;
      assert.equal(await q.recoverExpired(), 0);
      assert.equal(await q.release(leased), 40);
      const back = await Array.fromAsync(
        kv.list({ prefix: ["queue", "ready", "q"] }),
      );
      assert.equal(back.length, 40);
    }));

  Deno.test(`DurableQueue (${codecName}): an item too large to leave room to grow in one value is refused, naming it`, () =>
    withKv(async (kv) => {
      const q = queueOn<{ s: string }>(kv);
      const id = monotonicId();
      const value = { s: "x".repeat(MAX_ITEM_BYTES) };
      while (q.itemBytes("q", { id, value }) > MAX_ITEM_BYTES) {
        value.s = value.s.slice(1);
      }
      // The largest item is taken, leased, retried and dead-lettered.
      await q.append(new WriteBatch(kv), "q", [{ id, value }]).commit();
      const [item] = await q.lease("q", 1);
      assert.ok((await q.retry(new WriteBatch(kv), item, 0).commit()).ok);
      assert.equal(await q.promoteDue(), 1);
      const [again] = await q.lease("q", 1);
      assert.ok(
        (await q.deadLetter(new WriteBatch(kv), again, "x").commit()).ok,
      );
      // A little more (the bound V8 values are measured by first is a few
      // bytes above their size): refused when appended, with its index.
      const over = { s: value.s + "x".repeat(64) };
      const batch = new WriteBatch(kv);
      assert.throws(
        () =>
          q.append(batch, "q", [
            { id: monotonicId(), value: { s: "small" } },
            { id, value: over },
          ]),
        (e: Error) =>
          e instanceof KvLimitError && e.limit === "valueBytes" &&
          e.index === 1 && e.max === MAX_ITEM_BYTES &&
          e.message.startsWith("Item 1: Value too large"),
      );
    }));
}

Deno.test("DurableQueue: a queue storing JSON reads, leases and acknowledges what was stored as V8 values before", () =>
  withKv(async (kv) => {
    const before = new DurableQueue<Job>(kv, ["queue"], { codec: v8Records });
    await before.append(new WriteBatch(kv), "q", items(1, 2)).commit();
    const [leasedBefore] = await before.lease("q", 1);
    const after = new DurableQueue<Job>(kv, ["queue"], {
      codec: jsonRecords,
    });
    // One waiting as V8 (item 2), one leased as V8 (item 1), one new.
    await after.append(new WriteBatch(kv), "q", items(3)).commit();
    const raw = await Array.fromAsync(kv.list({ prefix: ["queue", "ready"] }));
    assert.deepEqual(raw.map((e) => e.value instanceof Uint8Array), [
      false,
      true,
    ]);
    const leased = await after.lease("q", 10);
    assert.deepEqual(leased.map((i) => i.value.n), [2, 3]);
    assert.ok((await after.ackAll(new WriteBatch(kv), leased).commit()).ok);
    assert.equal(await after.renew([leasedBefore]), 1);
    const s = await after.stats("q");
    assert.deepEqual([s.depth, s.inFlight, s.processed], [0, 1, 2]);
  }));
