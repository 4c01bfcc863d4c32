import assert from "node:assert/strict";
import { openPgKv } from "./pg/pg_kv.ts";
import { pgTestDatabase, pgTestUrl } from "./pg/pg_test_database.ts";
import { ReadBatcher } from "./read_batcher.ts";
import { withKv } from "./_test_kv.ts";

const PG = await pgTestUrl();

Deno.test("ReadBatcher: each caller gets what kv.get answers, present or absent", () =>
  withKv(async (kv) => {
    const set = await kv.set(["k", 1], { n: 1 });
    const reads = new ReadBatcher(kv);
    const [one, none] = await Promise.all([
      reads.get<{ n: number }>(["k", 1]),
      reads.get(["k", 2]),
    ]);
    assert.deepEqual(one.key, ["k", 1]);
    assert.deepEqual(one.value, { n: 1 });
    assert.equal(one.versionstamp, set.versionstamp);
    assert.deepEqual(none, await kv.get(["k", 2]));
  }));

Deno.test("ReadBatcher: a lone read goes at once, alone", () =>
  withKv(async (kv) => {
    await kv.set(["k"], "v");
    const reads = new ReadBatcher(kv);
    assert.equal((await reads.get(["k"])).value, "v");
    assert.deepEqual(reads.stats, { reads: 1, keys: 1 });
  }));

Deno.test("ReadBatcher: concurrent callers share reads of at most 10 keys", () =>
  withKv(async (kv) => {
    const atomic = kv.atomic();
    for (let i = 0; i < 95; i++) atomic.set(["k", i], i);
    await atomic.commit();
    const reads = new ReadBatcher(kv);
    const got = await Promise.all(
      Array.from({ length: 100 }, (_, i) => reads.get<number>(["k", i])),
    );
    // Every caller its own key's entry, in order, the absent ones null.
    assert.deepEqual(
      got.map((e) => e.value),
      Array.from({ length: 100 }, (_, i) => i < 95 ? i : null),
    );
    assert.deepEqual(got.map((e) => e.key[1]), got.map((_, i) => i));
    assert.equal(reads.stats.keys, 100);
    assert.equal(reads.stats.reads, 10);
  }));

Deno.test("ReadBatcher: keys asked for while a read is under way wait for it, then go together", () =>
  withKv(async (kv) => {
    const reads = new ReadBatcher(kv);
    const first = reads.get(["a"]);
    await Promise.resolve(); // the first read is under way
    const later = Array.from({ length: 5 }, (_, i) => reads.get(["b", i]));
    await first;
    await Promise.all(later);
    // Not six reads: fewer than 10 waited, so no second read started beside the first.
    assert.deepEqual(reads.stats, { reads: 2, keys: 6 });
  }));

Deno.test("ReadBatcher: a key the store refuses fails its own caller only", () =>
  withKv(async (kv) => {
    await kv.set(["ok", 1], "one");
    const reads = new ReadBatcher(kv);
    const tooLarge = ["big", "x".repeat(3000)];
    const [a, bad, b] = await Promise.allSettled([
      reads.get(["ok", 1]),
      reads.get(tooLarge),
      reads.get(["ok", 2]),
    ]);
    assert.equal(a.status === "fulfilled" && a.value.value, "one");
    assert.equal(b.status === "fulfilled" && b.value.versionstamp, null);
    assert.equal(bad.status, "rejected");
    assert.match(String((bad as PromiseRejectedResult).reason), /[Kk]ey/);
    // The refused read of three, then each key on its own.
    assert.deepEqual(reads.stats, { reads: 4, keys: 6 });
  }));

Deno.test("ReadBatcher: a closed store rejects every caller", async () => {
  const kv = await Deno.openKv(":memory:");
  const reads = new ReadBatcher(kv);
  kv.close();
  const results = await Promise.allSettled(
    Array.from({ length: 3 }, (_, i) => reads.get(["k", i])),
  );
  assert.ok(results.every((r) => r.status === "rejected"));
});

Deno.test("ReadBatcher: options must be whole numbers of at least 1", () =>
  withKv((kv) => {
    assert.throws(() => new ReadBatcher(kv, { maxKeys: 0 }), /maxKeys 0/);
    assert.throws(
      () => new ReadBatcher(kv, { maxInFlight: 1.5 }),
      /maxInFlight/,
    );
    return Promise.resolve();
  }));

Deno.test({
  name:
    "ReadBatcher on PostgreSQL: reads start at once, side by side, up to the pool's connections",
  ignore: !PG,
  fn: async () => {
    const kv = await openPgKv(await pgTestDatabase(), {
      watchPollMs: 0,
      connections: 2,
    });
    try {
      await kv.set(["k", 1], "one");
      const reads = new ReadBatcher(kv);
      const first = reads.get(["k", 1]);
      await Promise.resolve(); // the first read is under way
      const more = [reads.get(["k", 2]), reads.get(["k", 3])];
      await Promise.resolve();
      // Started beside the first at once (on Deno KV they wait for it).
      assert.deepEqual(reads.stats, { reads: 2, keys: 3 });
      const third = reads.get(["k", 1]);
      await Promise.resolve();
      // Two reads under way, the pool's two connections: the third waits.
      assert.equal(reads.stats.reads, 2);
      assert.equal((await first).value, "one");
      assert.deepEqual((await Promise.all(more)).map((e) => e.value), [
        null,
        null,
      ]);
      assert.equal((await third).value, "one");
      assert.deepEqual(reads.stats, { reads: 3, keys: 4 });
    } finally {
      await kv.closed();
    }
  },
});
