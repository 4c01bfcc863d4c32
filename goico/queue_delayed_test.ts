import assert from "node:assert/strict";
import { DurableQueue } from "./durable_queue.ts";
import { WriteBatch } from "./write_batch.ts";

async function world() {
  const kv = await Deno.openKv(":memory:");
  let clock = 1_000_000;
  const q = new DurableQueue<string>(kv, ["q"], { now: () => clock });
  const append = async (id: string, dueAt?: number) => {
    const batch = new WriteBatch(kv);
    if (dueAt === undefined) q.append(batch, "a", [{ id, value: id }]);
    else q.appendDelayed(batch, "a", [{ id, value: id }], dueAt);
    assert.ok((await batch.commit()).ok);
  };
  return {
    kv,
    q,
    append,
    at: (t: number) => {
      clock = t;
    },
  };
}

Deno.test("an item appended delayed joins its queue when due, in id order", async () => {
  const w = await world();
  try {
    await w.append("01", 1_005_000);
    await w.append("02");
    assert.equal(await w.q.backlog("a"), 2);
    assert.equal((await w.q.stats("a")).delayed, 1);
    assert.equal(await w.q.promoteDue(), 0);
    assert.deepEqual((await w.q.lease("a", 10)).map((i) => i.id), ["02"]);
    w.at(1_005_000);
    assert.equal(await w.q.promoteDue(), 1);
    const [item] = await w.q.lease("a", 10);
    assert.equal(item.id, "01");
    assert.equal(item.value, "01");
    assert.equal("dueAt" in item, false);
    // The index went with it: nothing to cancel.
    assert.deepEqual(await w.q.cancel("a", "01"), { state: "running" });
    assert.equal((await w.kv.get(["q", "due", "a", "01"])).versionstamp, null);
  } finally {
    w.kv.close();
  }
});

Deno.test("cancel removes a waiting or a delayed item, once, and counts it out", async () => {
  const w = await world();
  try {
    await w.append("01");
    await w.append("02", 2_000_000);
    await w.append("03");
    const counted: string[] = [];
    const also = (batch: WriteBatch, item: { id: string }) => {
      counted.push(item.id);
      batch.sum(["pins"], 1n);
    };
    const waiting = await w.q.cancel("a", "01", also);
    assert.equal(waiting.state, "waiting");
    const delayed = await w.q.cancel("a", "02", also);
    assert.deepEqual(
      delayed.state === "delayed" && [delayed.item.id, delayed.dueAt],
      ["02", 2_000_000],
    );
    assert.deepEqual(counted, ["01", "02"]);
    assert.equal((await w.kv.get<Deno.KvU64>(["pins"])).value?.value, 2n);
    // Once: the second time there is nothing.
    assert.deepEqual(await w.q.cancel("a", "01"), { state: "missing" });
    assert.deepEqual(await w.q.cancel("a", "02"), { state: "missing" });
    assert.equal(await w.q.backlog("a"), 1);
    w.at(3_000_000);
    assert.equal(await w.q.promoteDue(), 0);
    const leased = await w.q.lease("a", 10);
    assert.deepEqual(leased.map((i) => i.id), ["03"]);
    // In flight: not cancelled.
    assert.deepEqual(await w.q.cancel("a", "03"), { state: "running" });
    assert.deepEqual(await w.q.cancel("a", "nope"), { state: "missing" });
    // Another queue's item is not found by this queue's name.
    await w.append("04");
    assert.deepEqual(await w.q.cancel("b", "04"), { state: "missing" });
  } finally {
    w.kv.close();
  }
});

Deno.test("attack: a due time that is not a finite number is refused, never stored", async () => {
  const w = await world();
  try {
    for (const bad of [NaN, Infinity, -Infinity]) {
      assert.throws(
        () =>
          w.q.appendDelayed(
            new WriteBatch(w.kv),
            "a",
            [{ id: "x", value: "x" }],
            bad,
          ),
        /Invalid due time/,
      );
    }
    assert.deepEqual(await Array.fromAsync(w.kv.list({ prefix: ["q"] })), []);
  } finally {
    w.kv.close();
  }
});

Deno.test("drop removes delayed items and their index", async () => {
  const w = await world();
  try {
    await w.append("01", 2_000_000);
    await w.q.drop("a");
    assert.deepEqual(await Array.fromAsync(w.kv.list({ prefix: ["q"] })), []);
  } finally {
    w.kv.close();
  }
});

Deno.test("items due together are put back many per write, in order, large ones too", async () => {
  const kv = await Deno.openKv(":memory:");
  let clock = 1_000;
  const q = new DurableQueue<string>(kv, ["q"], { now: () => clock });
  try {
    // 120 small items of one request, and 20 of 50 KB: neither fits one write.
    const small = Array.from({ length: 120 }, (_, i) => ({
      id: `a${String(i).padStart(4, "0")}`,
      value: "x",
    }));
    const big = Array.from({ length: 20 }, (_, i) => ({
      id: `b${String(i).padStart(4, "0")}`,
      value: "y".repeat(50_000),
    }));
    for (const part of [small.slice(0, 60), small.slice(60)]) {
      const batch = new WriteBatch(kv);
      q.appendDelayed(batch, "a", part, 2_000);
      assert.ok((await batch.commit()).ok);
    }
    for (const item of big) {
      const batch = new WriteBatch(kv);
      q.appendDelayed(batch, "b", [item], 2_000);
      assert.ok((await batch.commit()).ok);
    }
    clock = 2_000;
    assert.equal(await q.promoteDue(), 140);
    // A lease takes at most 100 (its checks): lease until none is left.
    const all = async (queue: string) => {
      const ids: string[] = [];
      for (let got; (got = await q.lease(queue, 50)).length > 0;) {
        ids.push(...got.map((i) => i.id));
      }
      return ids;
    };
    assert.deepEqual(await all("a"), small.map((i) => i.id));
    assert.deepEqual(await all("b"), big.map((i) => i.id));
    assert.deepEqual(
      await Array.fromAsync(kv.list({ prefix: ["q", "due"] })),
      [],
    );
  } finally {
    kv.close();
  }
});

Deno.test("a delayed item read with getDelayed is withdrawn or postponed in a write, checked unchanged", async () => {
  const w = await world();
  try {
    await w.append("01", 2_000_000);
    await w.append("02", 2_000_000);
    assert.equal(await w.q.getDelayed("a", "09"), null);
    // Postponed: same id and value, a later due time, the backlog unchanged.
    const one = (await w.q.getDelayed("a", "01"))!;
    assert.equal(one.dueAt, 2_000_000);
    assert.equal(one.item.value, "01");
    const move = w.q.postponeDelayed(new WriteBatch(w.kv), one, 3_000_000);
    assert.ok((await move.commit()).ok);
    // A second write from the same read is refused: it moved.
    const stale = w.q.withdrawDelayed(new WriteBatch(w.kv), one);
    assert.equal((await stale.commit()).ok, false);
    assert.equal(await w.q.backlog("a"), 2);
    const listed = await w.q.listDelayed("a");
    assert.deepEqual(listed.items.map((i) => [i.item.id, i.dueAt]), [
      ["01", 3_000_000],
      ["02", 2_000_000],
    ]);
    // Withdrawn: gone, out of the backlog, never promoted.
    const two = (await w.q.getDelayed("a", "02"))!;
    assert.ok(
      (await w.q.withdrawDelayed(new WriteBatch(w.kv), two).commit()).ok,
    );
    assert.equal(await w.q.backlog("a"), 1);
    assert.equal(await w.q.getDelayed("a", "02"), null);
    w.at(2_500_000);
    assert.equal(await w.q.promoteDue(), 0);
    w.at(3_000_000);
    assert.equal(await w.q.promoteDue(), 1);
    assert.deepEqual((await w.q.lease("a", 10)).map((i) => i.id), ["01"]);
    // Promoted: nothing delayed to read any more.
    assert.equal(await w.q.getDelayed("a", "01"), null);
    assert.throws(
      () => w.q.postponeDelayed(new WriteBatch(w.kv), one, NaN),
      RangeError,
    );
  } finally {
    w.kv.close();
  }
});

Deno.test("stats counts a queue's delayed items (appended delayed and waiting for a retry) through its own index, whatever other queues hold; a retry is neither listed as delayed nor cancelled", async () => {
  const w = await world();
  try {
    // Another queue with many delayed items: not this queue's.
    const other = new WriteBatch(w.kv);
    w.q.appendDelayed(
      other,
      "b",
      Array.from({ length: 300 }, (_, i) => ({
        id: `b${String(i).padStart(3, "0")}`,
        value: "x",
      })),
      5_000_000,
    );
    assert.ok((await other.commit()).ok);
    await w.append("01", 2_000_000);
    await w.append("02");
    const [leased] = await w.q.lease("a", 1);
    assert.equal(leased.id, "02");
    assert.ok(
      (await w.q.retry(new WriteBatch(w.kv), leased, 60_000).commit()).ok,
    );

    // The same real KV, its reads counted: stats("a") must not read what
    // queue "b" holds (300 items of another tenant, say).
    let readOfB = 0;
    const counted = new Proxy(w.kv, {
      get(target, prop) {
        if (prop === "list") {
          return (sel: Deno.KvListSelector, opts?: Deno.KvListOptions) => {
            const it = target.list(sel, opts);
            return (async function* () {
              for await (const e of it) {
                if (e.key.includes("b")) readOfB++;
                yield e;
              }
            })();
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const viaCounted = new DurableQueue<string>(counted, ["q"], {
      now: () => 1_000_000,
    });
    const a = await viaCounted.stats("a");
    assert.equal(readOfB, 0, "stats of queue a read queue b's items");
    assert.equal(a.delayed, 2);
    assert.equal(a.depth, 2);
    assert.equal((await w.q.stats("b")).delayed, 300);
    // The retry ran already: not a delayed event, and not cancelled.
    assert.deepEqual(
      (await w.q.listDelayed("a")).items.map((d) => d.item.id),
      ["01"],
    );
    assert.deepEqual(await w.q.cancel("a", "02"), { state: "missing" });
    // Due, it goes back to its queue and leaves the index.
    w.at(1_060_000);
    assert.equal(await w.q.promoteDue(), 1);
    assert.equal((await w.q.stats("a")).delayed, 1);
    assert.equal((await w.kv.get(["q", "due", "a", "02"])).versionstamp, null);
  } finally {
    w.kv.close();
  }
});
