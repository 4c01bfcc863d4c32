import assert from "node:assert/strict";
import { DurableQueue } from "./durable_queue.ts";
import type { Priority } from "./queue_priority.ts";
import { WriteBatch } from "./write_batch.ts";

type Job = { p?: Priority };

/** Every key under `prefix`, in a stable order. */
async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey) {
  const keys = await Array.fromAsync(kv.list({ prefix }), (e) => e.key);
  return keys.map((k) => JSON.stringify(k)).sort();
}

// The layout is what a store already holds: it must not move.
Deno.test("QueueKeys: a queue's records sit at the keys of the documented layout", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let clock = 1_000;
    const q = new DurableQueue<Job>(kv, ["q"], {
      now: () => clock,
      leaseMs: 100,
      priorityOf: (v) => v.p,
    });
    const commit = async (batch: WriteBatch) =>
      assert.ok((await batch.commit()).ok);
    await commit(q.append(new WriteBatch(kv), "a", [
      { id: "01", value: {} },
      { id: "02", value: { p: "high" } },
      { id: "03", value: { p: "low" } },
    ]));
    await commit(
      q.appendDelayed(
        new WriteBatch(kv),
        "a",
        [{ id: "04", value: {} }],
        5_000,
      ),
    );
    // High first: 02 goes to the dead letters, then 01 waits for a retry.
    const [high] = await q.lease("a", 1);
    assert.equal(high.id, "02");
    await commit(q.deadLetter(new WriteBatch(kv), high, "boom"));
    const [normal] = await q.lease("a", 1);
    assert.equal(normal.id, "01");
    await commit(q.retry(new WriteBatch(kv), normal, 100));
    // 03's lease expires (the epoch appears), then it is acknowledged.
    assert.equal((await q.lease("a", 1))[0].id, "03");
    clock += 1_000;
    assert.equal(await q.recoverExpired(), 1);
    const [low] = await q.lease("a", 1);
    assert.equal(low.id, "03");
    await commit(q.ack(new WriteBatch(kv), low));
    await commit(q.append(new WriteBatch(kv), "a", [
      { id: "05", value: {} },
      { id: "06", value: { p: "high" } },
      { id: "07", value: { p: "low" } },
      { id: "08", value: { p: "high" } },
    ]));
    const [held] = await q.lease("a", 1);
    assert.equal(held.id, "06");

    assert.deepEqual(
      await keysUnder(kv, ["q"]),
      [
        ["q", "active", "a"],
        ["q", "count", "a", "acked"],
        ["q", "count", "a", "dead"],
        ["q", "count", "a", "in"],
        ["q", "count", "a", "out"],
        ["q", "dead", "a", "02"],
        ["q", "delayed", 1_100, "a", "01"],
        ["q", "delayed", 5_000, "a", "04"],
        ["q", "due", "a", "01"],
        ["q", "due", "a", "04"],
        ["q", "epoch", "a"],
        ["q", "inflight", "a", "06"],
        ["q", "ready", "a", "05"],
        ["q", "ready", "a", 0, "08"],
        ["q", "ready", "a", 2, "07"],
        ["q", "signal"],
      ].map((k) => JSON.stringify(k)).sort(),
    );
    assert.deepEqual(q.gateKey("g"), ["q", "gate", "g"]);

    // A queue dropped leaves nothing of its own behind.
    await q.drop("a");
    assert.deepEqual(await keysUnder(kv, ["q"]), ['["q","signal"]']);
  } finally {
    kv.close();
  }
});
