import assert from "node:assert/strict";
import { KV_LIMITS, type KvLimits } from "./kv_limits.ts";
import { kvValueSize } from "./kv_value_size.ts";
import { collectedKey, KvLimitError, WriteBatch } from "./write_batch.ts";
import { withKv } from "./_test_kv.ts";

/** Runs `fill` on a batch; returns the limit the batch refused with, or null. */
function refusal(
  batch: WriteBatch,
  fill: (b: WriteBatch) => void,
): keyof KvLimits | null {
  try {
    fill(batch);
    return null;
  } catch (err) {
    assert.ok(err instanceof KvLimitError, String(err));
    return err.limit;
  }
}

/** Whether the KV itself takes the writes of `fill` in one atomic. */
async function kvTakes(
  kv: Deno.Kv,
  fill: (op: Deno.AtomicOperation) => void,
): Promise<boolean> {
  const op = kv.atomic();
  fill(op);
  try {
    await op.commit();
    return true;
  } catch (err) {
    assert.match(String(err), /too large|Too many/);
    return false;
  }
}

/**
 * Writes at each of the KV's limits: the batch takes exactly what the KV
 * takes (it commits) and refuses, naming the limit, the first write the
 * KV would refuse.
 */
const EDGES: {
  limit: keyof KvLimits;
  /** Writes that reach the limit exactly (`extra` 0) or pass it by one. */
  fill: (op: Deno.AtomicOperation | WriteBatch, extra: number) => void;
}[] = [
  {
    limit: "mutations",
    fill: (op, extra) => {
      for (let i = 0; i < 1000 + extra; i++) op.delete(["m", i]);
    },
  },
  {
    limit: "checks",
    fill: (op, extra) => {
      for (let i = 0; i < 100 + extra; i++) {
        op.check({ key: ["c", i], versionstamp: null });
      }
    },
  },
  {
    // ["k", s]: 3 bytes and the string's length + 2.
    limit: "keyBytes",
    fill: (op, extra) => op.set(["k", "x".repeat(2043 + extra)], 1),
  },
  {
    limit: "valueBytes",
    fill: (op, extra) => op.set(["v"], new Uint8Array(65_536 + extra)),
  },
  {
    // A string of n one-byte characters: a header, a tag, a length, n bytes.
    limit: "valueBytes",
    fill: (op, extra) => op.set(["v"], "y".repeat(65_530 + extra)),
  },
  {
    // 12 values of 64 KiB and one of 32,534 bytes, keys [i] of 9 bytes
    // counted twice: 819,200.
    limit: "totalBytes",
    fill: (op, extra) => {
      for (let i = 0; i < 12; i++) op.set([i], new Uint8Array(65_536));
      op.set([12], new Uint8Array(32_534 + extra));
    },
  },
  {
    // A check and a delete count their key once, a sum its key twice and 8.
    limit: "totalBytes",
    fill: (op, extra) => {
      for (let i = 0; i < 12; i++) op.set([i], new Uint8Array(65_536));
      op.check({ key: ["c"], versionstamp: null });
      op.delete(["d"]);
      op.sum(["s"], 1n);
      op.set([12], new Uint8Array(32_534 - 3 - 3 - 14 + extra), {
        expireIn: 60_000,
      });
    },
  },
  {
    // 800 sets of 100-byte keys are 80,000 bytes of keys; deletes count none.
    limit: "totalKeyBytes",
    fill: (op, extra) => {
      for (let i = 0; i < 800; i++) {
        op.set([String(i).padStart(98, "0")], 1);
      }
      op.set(["z".repeat(1918 + extra)], 1);
      for (let i = 0; i < 100; i++) op.delete([String(i).padStart(98, "d")]);
    },
  },
];

Deno.test("WriteBatch: at each KV limit it takes what the KV takes and refuses, naming the limit, what the KV refuses", () =>
  withKv(async (kv) => {
    for (const { limit, fill } of EDGES) {
      const at = new WriteBatch(kv);
      assert.equal(refusal(at, (b) => fill(b, 0)), null, `${limit} at`);
      assert.ok((await at.commit()).ok, `${limit}: the KV takes it`);
      assert.equal(refusal(new WriteBatch(kv), (b) => fill(b, 1)), limit);
      assert.equal(
        await kvTakes(kv, (op) => fill(op, 1)),
        false,
        `${limit}: the KV refuses it too`,
      );
    }
  }));

Deno.test("WriteBatch: KV_LIMITS are Deno KV's", () => {
  assert.deepEqual({ ...KV_LIMITS }, {
    mutations: 1000,
    checks: 100,
    keyBytes: 2048,
    valueBytes: 65_536,
    totalBytes: 819_200,
    totalKeyBytes: 81_920,
  });
});

Deno.test("WriteBatch: counts as it goes, and commits checks and writes as one atomic", () =>
  withKv(async (kv) => {
    await kv.set(["seen"], 1);
    const b = new WriteBatch(kv)
      .set(["a"], "x")
      .delete(["gone"])
      .sum(["n"], 5n)
      .check({ key: ["fresh"], versionstamp: null });
    assert.deepEqual([b.mutations, b.checks], [3, 1]);
    // ["a"] 3 bytes twice and "x" 5; ["gone"] 6; ["n"] 3 twice and 8; ["fresh"] 7.
    assert.equal(b.bytes, 6 + 5 + 6 + 14 + 7);
    assert.equal(b.keyBytes, 3 + 3);
    assert.ok((await b.commit()).ok);
    assert.equal((await kv.get(["a"])).value, "x");
    assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 5n);
    // A failed check: nothing is written.
    const refused = new WriteBatch(kv).set(["b"], 1).check({
      key: ["seen"],
      versionstamp: null,
    });
    assert.equal((await refused.commit()).ok, false);
    assert.equal((await kv.get(["b"])).versionstamp, null);
  }));

Deno.test("WriteBatch: sums of one key are one mutation, wrapping as KV sums do", () =>
  withKv(async (kv) => {
    const b = new WriteBatch(kv);
    for (let i = 0; i < 2000; i++) b.sum(["count"], 1n);
    b.sum(["count"], (1n << 64n) - 500n); // -500
    assert.equal(b.mutations, 1);
    assert.ok((await b.commit()).ok);
    assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 1500n);
  }));

Deno.test("WriteBatch: a sum's first term and a negative one wrap to 64 bits too", () =>
  withKv(async (kv) => {
    const U64 = 1n << 64n;
    const b = new WriteBatch(kv)
      .sum(["neg-first"], -3n) // stored as 2^64 - 3
      .sum(["neg-first"], 5n) // passes 2^64: 2
      .sum(["big-first"], U64 + 7n) // 7
      .sum(["down"], 2n)
      .sum(["down"], -5n) // below zero: 2^64 - 3
      .sum(["exact"], U64 - 1n)
      .sum(["exact"], 1n); // 2^64: 0
    assert.ok((await b.commit()).ok);
    const got = await kv.getMany<Deno.KvU64[]>([
      ["neg-first"],
      ["big-first"],
      ["down"],
      ["exact"],
    ]);
    assert.deepEqual(got.map((e) => e.value?.value), [2n, 7n, U64 - 3n, 0n]);
  }));

Deno.test("WriteBatch: a shared set is written once, with the last value", () =>
  withKv(async (kv) => {
    const b = new WriteBatch(kv)
      .setShared(["active"], 1)
      .setShared(["active"], "a longer value")
      .setShared(["active"], 3);
    assert.equal(b.mutations, 1);
    // The key twice, and the last value (a number: 11 bytes at most).
    assert.equal(b.bytes, 2 * 8 + 11);
    assert.ok((await b.commit()).ok);
    assert.equal((await kv.get(["active"])).value, 3);
  }));

Deno.test("WriteBatch: collect gathers the items of every part into one list, at a key made of its smallest item and their count", () =>
  withKv(async (kv) => {
    const parts = ["c", "a", "d", "b"].map((id) =>
      new WriteBatch(kv).set(["rec", id], id).collect(["inbox"], id)
    );
    const b = new WriteBatch(kv);
    for (const p of parts) {
      assert.ok(b.fits(p));
      b.add(p);
    }
    // The four records and one list.
    assert.equal(b.mutations, 5);
    assert.ok((await b.commit()).ok);
    const lists = await Array.fromAsync(kv.list({ prefix: ["inbox"] }));
    assert.deepEqual(lists.map((e) => [e.key, e.value]), [
      [["inbox", "a", 4], ["c", "a", "d", "b"]],
    ]);
    assert.deepEqual(collectedKey(["inbox"], ["d", "b"]), ["inbox", "b", 2]);
    // Another commit, its own list.
    assert.ok((await new WriteBatch(kv).collect(["inbox"], "e").commit()).ok);
    assert.equal(
      (await Array.fromAsync(kv.list({ prefix: ["inbox"] }))).length,
      2,
    );
  }));

Deno.test("attack: a list gathered past the KV's value limit is refused, by collect and by fits", () =>
  withKv((kv) => {
    const small: KvLimits = { ...KV_LIMITS, valueBytes: 1000 };
    const b = new WriteBatch(kv, small);
    const item = (i: number) => String(i).padStart(40, "0");
    let i = 0;
    assert.throws(
      () => {
        for (; i < 100; i++) b.collect(["list"], item(i));
      },
      (e) => e instanceof KvLimitError && e.limit === "valueBytes",
    );
    // Each part fits alone; together they would not.
    const whole = new WriteBatch(kv, small);
    let added = 0;
    for (let j = 0; j < 100; j++) {
      const part = whole.part().collect(["list"], item(j));
      if (!whole.fits(part)) break;
      whole.add(part);
      added++;
    }
    assert.ok(added > 5 && added < 100, `${added} items`);
    assert.throws(() => whole.add(whole.part().collect(["list"], item(99))));
    return Promise.resolve();
  }));

Deno.test("WriteBatch: the same check twice is made once; keys are told apart exactly", () =>
  withKv(async (kv) => {
    const stamp = (await kv.set(["x"], 1)).versionstamp;
    const b = new WriteBatch(kv);
    for (let i = 0; i < 150; i++) b.check({ key: ["x"], versionstamp: stamp });
    assert.equal(b.checks, 1);
    // Keys whose parts would read alike if joined: distinct sums.
    b.sum(["a\u0000s1:b"], 1n).sum(["a", "b"], 1n).sum([1], 1n).sum(["1"], 1n);
    assert.equal(b.mutations, 4);
    assert.ok((await b.commit()).ok);
  }));

Deno.test("WriteBatch: fits and add pack parts, and a part that does not fit is not added at all", () =>
  withKv(async (kv) => {
    const part = (i: number) =>
      new WriteBatch(kv).set(["item", i], new Uint8Array(60_000)).sum(
        ["count"],
        1n,
      ).setShared(["active"], i);
    const batch = new WriteBatch(kv);
    let n = 0;
    for (; n < 20; n++) {
      const p = part(n);
      if (!batch.fits(p)) break;
      batch.add(p);
    }
    // 13 items of 60,000 bytes fit 819,200; the shared writes are once.
    assert.equal(n, 13);
    assert.equal(batch.mutations, 15);
    const before = [batch.mutations, batch.bytes, batch.keyBytes];
    assert.throws(
      () => batch.add(part(13)),
      (e: Error) => e instanceof KvLimitError && e.limit === "totalBytes",
    );
    assert.deepEqual([batch.mutations, batch.bytes, batch.keyBytes], before);
    assert.ok((await batch.commit()).ok);
    assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 13n);
    assert.equal((await kv.get(["active"])).value, 12);
  }));

Deno.test("WriteBatch: parts that check one key overlap", () =>
  withKv((kv) => {
    const a = new WriteBatch(kv).check({ key: ["k"], versionstamp: null });
    const b = new WriteBatch(kv).check({ key: ["k"], versionstamp: "00" });
    const c = new WriteBatch(kv).check({ key: ["other"], versionstamp: null });
    assert.ok(a.checksOverlap(b));
    assert.ok(!a.checksOverlap(c));
    assert.ok(!a.checksOverlap(new WriteBatch(kv).set(["k"], 1)));
    return Promise.resolve();
  }));

Deno.test("WriteBatch: smaller limits (another store's) are held to, also by what is added", () =>
  withKv((kv) => {
    const small: KvLimits = { ...KV_LIMITS, valueBytes: 8192, mutations: 3 };
    const b = new WriteBatch(kv, small);
    assert.equal(
      refusal(b, (w) => w.set(["v"], "x".repeat(9000))),
      "valueBytes",
    );
    const large = new WriteBatch(kv).set(["v"], "x".repeat(9000));
    assert.equal(b.fits(large), false);
    assert.equal(refusal(b, (w) => w.add(large)), "valueBytes");
    b.delete([1]).delete([2]).delete([3]);
    assert.equal(refusal(b, (w) => w.delete([4])), "mutations");
    return Promise.resolve();
  }));

Deno.test("attack: values measured as stored, however their bound reads", () =>
  withKv(async (kv) => {
    // Many small integers: the bound counts 9 bytes each, V8 writes 2.
    const numbers = Array.from({ length: 20_000 }, (_, i) => i % 64);
    const b = new WriteBatch(kv).set(["numbers"], numbers);
    assert.ok((await b.commit()).ok);
    // One wide character doubles every character of a string.
    const wide = "€" + "x".repeat(40_000);
    assert.equal(
      refusal(new WriteBatch(kv), (w) => w.set(["w"], wide)),
      "valueBytes",
    );
    await assert.rejects(kv.set(["w"], wide), /Value too large/);
    // A message names the limit, the size and the key.
    assert.throws(
      () => new WriteBatch(kv).set(["big", "key"], new Uint8Array(70_000)),
      /^KvLimitError: Value too large: 70000 bytes stored, at most 65536, at key \["big","key"\]$/,
    );
  }));

Deno.test("attack: 200 random batches of byte values and keys: the batch refuses exactly what the KV refuses", () =>
  withKv(async (kv) => {
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const int = (n: number) => Math.floor(rand() * n);
    const key = (): Deno.KvKey => [
      "k",
      int(1e9),
      "é\u0000".repeat(int(3)) + "x".repeat(rand() < 0.1 ? 2030 : int(300)),
    ];
    for (let round = 0; round < 200; round++) {
      const writes: ((op: Deno.AtomicOperation | WriteBatch) => void)[] = [];
      for (let n = int(rand() < 0.2 ? 1100 : 40); n > 0; n--) {
        const k = key();
        const size = rand() < 0.1 ? 60_000 + int(6000) : int(3000);
        switch (int(4)) {
          case 0:
            writes.push((op) => op.set(k, new Uint8Array(size)));
            break;
          case 1:
            writes.push((op) => op.delete(k));
            break;
          case 2:
            writes.push((op) => op.sum(k, 1n));
            break;
          default:
            writes.push((op) => op.check({ key: k, versionstamp: null }));
        }
      }
      const batch = new WriteBatch(kv);
      const refused = refusal(batch, (b) => writes.forEach((w) => w(b)));
      const taken = await kvTakes(kv, (op) => writes.forEach((w) => w(op)));
      assert.equal(refused === null, taken, `round ${round}: ${refused}`);
      if (refused === null) assert.ok((await batch.commit()).ok);
    }
  }));

Deno.test("WriteBatch: a set given its value's size is not measured again; one given as over the limit is serialized to decide", () =>
  withKv((kv) => {
    const value = { a: "x".repeat(100) };
    const walked = new WriteBatch(kv).set(["k"], value);
    // The size given is the one counted (here 10 bytes more than the walk).
    const told = new WriteBatch(kv).set(["k"], value, {
      bytes: kvValueSize(value) + 10,
    });
    assert.equal(told.bytes, walked.bytes + 10);
    // A size above the limit (a caller's bound) is checked exactly: this
    // value fits, so it is taken.
    const small: KvLimits = { ...KV_LIMITS, valueBytes: 1000 };
    const b = new WriteBatch(kv, small).set(["k"], value, { bytes: 5000 });
    assert.ok(b.bytes < 1000);
    assert.throws(
      () =>
        new WriteBatch(kv, small).set(["k"], { a: "x".repeat(2000) }, {
          bytes: 5000,
        }),
      (e) => e instanceof KvLimitError && e.limit === "valueBytes",
    );
    return Promise.resolve();
  }));
