import assert from "node:assert/strict";
import { GroupCommit } from "./group_commit.ts";
import { KV_LIMITS } from "./kv_limits.ts";
import { WriteBatch } from "./write_batch.ts";
import { withKv } from "./_test_kv.ts";

const setPart = (
  kv: Deno.Kv,
  key: Deno.KvKey,
  value: unknown,
  check = false,
): WriteBatch => {
  const part = new WriteBatch(kv);
  if (check) part.check({ key, versionstamp: null });
  return part.set(key, value);
};

Deno.test("GroupCommit: concurrent parts share one commit and all land", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => g.commit(setPart(kv, ["k", i], i))),
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal(g.stats.commits, 1);
    assert.equal(g.stats.parts, 50);
    const stored = await Array.fromAsync(kv.list({ prefix: ["k"] }));
    assert.equal(stored.length, 50);
  }));

Deno.test("GroupCommit: a lone part is committed at once, and is durable when answered", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv);
    const r = await g.commit(setPart(kv, ["one"], "v"));
    assert.ok(r.ok);
    assert.equal((await kv.get(["one"])).value, "v");
  }));

Deno.test("GroupCommit: a part whose check fails is refused alone; the others commit", () =>
  withKv(async (kv) => {
    await kv.set(["taken"], "first");
    const g = new GroupCommit(kv);
    const [a, b, c] = await Promise.all([
      g.commit(setPart(kv, ["a"], 1)),
      g.commit(setPart(kv, ["taken"], "second", true)),
      g.commit(setPart(kv, ["c"], 3)),
    ]);
    assert.equal(a.ok, true);
    assert.equal(b.ok, false);
    assert.equal(c.ok, true);
    assert.equal((await kv.get(["taken"])).value, "first");
    assert.equal((await kv.get(["a"])).value, 1);
    assert.equal((await kv.get(["c"])).value, 3);
  }));

Deno.test("GroupCommit: two parts checking the same key never share a commit", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv);
    const results = await Promise.all([
      g.commit(setPart(kv, ["idem"], "first", true)),
      g.commit(setPart(kv, ["idem"], "second", true)),
    ]);
    // As with two separate atomics: the first wins, the second is refused.
    assert.deepEqual(results.map((r) => r.ok), [true, false]);
    assert.equal((await kv.get(["idem"])).value, "first");
  }));

Deno.test("GroupCommit: groups stay within the mutation limit, as the parts measure, in order", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv, { limits: { ...KV_LIMITS, mutations: 10 } });
    const part = (i: number) => {
      const p = new WriteBatch(kv);
      for (let k = 0; k < 4; k++) p.set(["m", i, k], i);
      return p.sum(["count"], 1n);
    };
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, i) => g.commit(part(i))),
    );
    assert.ok(results.every((r) => r.ok));
    // 2 parts (5 mutations each alone, the sums merged: 9) per commit: 5
    // commits for 9 parts.
    assert.equal(g.stats.commits, 5);
    // Parts are committed in order: versionstamps never go down.
    const stamps = results.map((r) => (r as Deno.KvCommitResult).versionstamp);
    assert.deepEqual([...stamps].sort(), stamps);
    assert.equal(
      (await kv.get<Deno.KvU64>(["count"])).value?.value,
      9n,
    );
  }));

Deno.test("GroupCommit: options given as undefined keep the KV's limits", () =>
  withKv(async (kv) => {
    // As a caller passing its own optional settings on would:
    // `{ limits: options.limits, ... }` with none of them set.
    const g = new GroupCommit(kv, {
      limits: undefined,
      maxInFlight: undefined,
      overlapMutations: undefined,
    });
    const part = (i: number) => {
      const p = new WriteBatch(kv);
      for (let k = 0; k < 4; k++) p.set(["u", i, k], i);
      return p;
    };
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => g.commit(part(i))),
    );
    assert.ok(results.every((r) => r.ok));
    // 1,200 mutations: two commits within the default 1,000 each, not one
    // that the KV refuses followed by 300 single commits.
    assert.equal(g.stats.commits, 2);
  }));

Deno.test("GroupCommit: a part that throws in the KV rejects only its own caller", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv);
    // Measured against larger limits than the KV's: a value over 64 KiB
    // fits no group, goes alone, and the KV refuses it.
    const tooBig = new WriteBatch(kv, { ...KV_LIMITS, valueBytes: 1 << 20 })
      .set(["big"], "x".repeat(70_000));
    const [a, b] = await Promise.allSettled([
      g.commit(setPart(kv, ["fine"], 1)),
      g.commit(tooBig),
    ]);
    assert.equal(a.status, "fulfilled");
    assert.equal(b.status, "rejected");
    assert.equal((await kv.get(["fine"])).value, 1);
    assert.equal((await kv.get(["big"])).value, null);
  }));

Deno.test("GroupCommit: shared sums and sets are written once per key, as the parts in order would leave them", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv);
    const part = (i: number, sum = BigInt(i)) =>
      new WriteBatch(kv).set(["item", i], i).sum(["count"], sum)
        .setShared(["last"], i);
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => g.commit(part(i))),
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal(g.stats.commits, 1);
    assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 10n);
    assert.equal((await kv.get(["last"])).value, 4);
    // A sum past 2^64 wraps, as KV sums do.
    await g.commit(part(5, (1n << 64n) - 10n));
    assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 0n);
  }));

/**
 * The real KV, counting the commits under way at once. While `hold()` is
 * in force, commits are under way but not handed to the store until
 * `release()`: a test sees what is under way however fast the store is.
 */
function countingCommits(kv: Deno.Kv) {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const seen = {
    now: 0,
    most: 0,
    hold() {
      gate = new Promise<void>((r) => open = r);
    },
    release() {
      open();
    },
  };
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop !== "atomic") {
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      }
      return () => {
        const op = target.atomic();
        const commit = op.commit.bind(op);
        op.commit = async () => {
          seen.most = Math.max(seen.most, ++seen.now);
          try {
            await gate;
            return await commit();
          } finally {
            seen.now--;
          }
        };
        return op;
      };
    },
  });
  return { kv: proxy, seen };
}

/** A part of `n` sets of `key`, the last value `value`. */
const setsPart = (
  kv: Deno.Kv,
  key: string,
  n: number,
  value: string,
): WriteBatch => {
  const part = new WriteBatch(kv);
  for (let i = 0; i < n - 1; i++) part.set([key, "fill", i], i);
  return part.set([key], value);
};

/** Lets the microtasks queued so far run (not the event loop). */
const microtasks = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

Deno.test("GroupCommit: a large group waiting while a commit is under way is committed at once, and lands after it", () =>
  withKv(async (raw) => {
    const { kv, seen } = countingCommits(raw);
    const g = new GroupCommit(kv);
    seen.hold();
    const first = g.commit(setsPart(kv, "k", 1, "first"));
    await microtasks(); // the first commit is under way
    const second = g.commit(setsPart(kv, "k", 150, "second"));
    await microtasks();
    assert.equal(seen.now, 2, "two commits under way at once");
    seen.release();
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a.ok && b.ok);
    assert.equal(g.stats.commits, 2);
    // Written in the order they were handed to the store.
    assert.ok(
      (a as Deno.KvCommitResult).versionstamp <
        (b as Deno.KvCommitResult).versionstamp,
    );
    assert.equal((await raw.get(["k"])).value, "second");
  }));

Deno.test("GroupCommit: small parts wait for the commit under way and share the next one", () =>
  withKv(async (raw) => {
    const { kv, seen } = countingCommits(raw);
    const g = new GroupCommit(kv);
    seen.hold();
    const first = g.commit(setsPart(kv, "a", 1, "first"));
    await microtasks();
    const rest = ["b", "c", "d"].map((k) => g.commit(setsPart(kv, k, 2, k)));
    await microtasks();
    assert.equal(seen.now, 1);
    seen.release();
    assert.ok((await Promise.all([first, ...rest])).every((r) => r.ok));
    assert.equal(seen.most, 1);
    assert.equal(g.stats.commits, 2);
  }));

Deno.test("GroupCommit: with maxInFlight 1 a large group waits too", () =>
  withKv(async (raw) => {
    const { kv, seen } = countingCommits(raw);
    const g = new GroupCommit(kv, { maxInFlight: 1 });
    const first = g.commit(setsPart(kv, "k", 1, "first"));
    await microtasks();
    const second = g.commit(setsPart(kv, "k", 150, "second"));
    await Promise.all([first, second]);
    assert.equal(seen.most, 1);
    assert.equal((await raw.get(["k"])).value, "second");
  }));

Deno.test("GroupCommit: groups split where the parts' bytes would pass one atomic's", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv);
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => g.commit(setPart(kv, ["big", i], new Uint8Array(60_000))),
      ),
    );
    assert.ok(results.every((r) => r.ok));
    // 13 values of 60,000 bytes fit 819,200, 14 do not.
    assert.equal(g.stats.commits, 2);
    assert.equal(g.stats.parts, 20);
  }));
