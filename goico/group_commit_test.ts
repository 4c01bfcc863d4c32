import assert from "node:assert/strict";
import { type CommitPart, GroupCommit } from "./group_commit.ts";

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

const setPart = (
  key: Deno.KvKey,
  value: unknown,
  check = false,
): CommitPart => ({
  mutations: 1,
  bytes: 100,
  keyBytes: 50,
  ...(check && { checks: [key] }),
  write: (op) => {
    if (check) op.check({ key, versionstamp: null });
    op.set(key, value);
  },
});

Deno.test("GroupCommit: concurrent parts share one commit and all land", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => g.commit(setPart(["k", i], i))),
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
    const r = await g.commit(setPart(["one"], "v"));
    assert.ok(r.ok);
    assert.equal((await kv.get(["one"])).value, "v");
  }));

Deno.test("GroupCommit: a part whose check fails is refused alone; the others commit", () =>
  withKv(async (kv) => {
    await kv.set(["taken"], "first");
    const g = new GroupCommit(kv);
    const [a, b, c] = await Promise.all([
      g.commit(setPart(["a"], 1)),
      g.commit(setPart(["taken"], "second", true)),
      g.commit(setPart(["c"], 3)),
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
      g.commit(setPart(["idem"], "first", true)),
      g.commit(setPart(["idem"], "second", true)),
    ]);
    // As with two separate atomics: the first wins, the second is refused.
    assert.deepEqual(results.map((r) => r.ok), [true, false]);
    assert.equal((await kv.get(["idem"])).value, "first");
  }));

Deno.test("GroupCommit: groups stay within the mutation limit, in order", () =>
  withKv(async (kv) => {
    const g = new GroupCommit(kv, { maxMutations: 10 });
    const part = (i: number): CommitPart => ({
      mutations: 4,
      bytes: 10,
      keyBytes: 10,
      write: (op) => {
        for (let k = 0; k < 4; k++) op.set(["m", i, k], i);
        op.sum(["count"], 1n);
      },
    });
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, i) => g.commit(part(i))),
    );
    assert.ok(results.every((r) => r.ok));
    // 2 parts (8 mutations, as declared) per commit: 5 commits for 9 parts.
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
    // `{ maxMutations: options.maxMutations, ... }` with none of them set.
    const g = new GroupCommit(kv, {
      maxMutations: undefined,
      maxChecks: undefined,
      maxBytes: undefined,
      maxKeyBytes: undefined,
    });
    const part = (i: number): CommitPart => ({
      mutations: 4,
      bytes: 10,
      keyBytes: 10,
      write: (op) => {
        for (let k = 0; k < 4; k++) op.set(["u", i, k], i);
      },
    });
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
    const tooBig: CommitPart = {
      mutations: 1,
      bytes: 1,
      keyBytes: 1,
      // Declared small, but a value over 64 KiB makes the commit throw.
      write: (op) => op.set(["big"], "x".repeat(70_000)),
    };
    const [a, b] = await Promise.allSettled([
      g.commit(setPart(["fine"], 1)),
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
    const part = (i: number): CommitPart => ({
      mutations: 3,
      bytes: 10,
      keyBytes: 10,
      sums: [[["count"], BigInt(i)]],
      sets: [[["last"], i]],
      write: (op) => op.set(["item", i], i),
    });
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => g.commit(part(i))),
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal(g.stats.commits, 1);
    assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 10n);
    assert.equal((await kv.get(["last"])).value, 4);
    // A sum past 2^64 wraps, as KV sums do.
    await g.commit({ ...part(5), sums: [[["count"], (1n << 64n) - 10n]] });
    assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 0n);
  }));

/** The real KV, counting the commits under way at once. */
function countingCommits(kv: Deno.Kv) {
  const seen = { now: 0, most: 0 };
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
const setsPart = (key: string, n: number, value: string): CommitPart => ({
  mutations: n,
  bytes: n * 20,
  keyBytes: n * 10,
  write: (op) => {
    for (let i = 0; i < n - 1; i++) op.set([key, "fill", i], i);
    op.set([key], value);
  },
});

/** Lets the microtasks queued so far run (not the event loop). */
const microtasks = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

Deno.test("GroupCommit: a large group waiting while a commit is under way is committed at once, and lands after it", () =>
  withKv(async (raw) => {
    const { kv, seen } = countingCommits(raw);
    const g = new GroupCommit(kv);
    const first = g.commit(setsPart("k", 1, "first"));
    await microtasks(); // the first commit is under way
    const second = g.commit(setsPart("k", 150, "second"));
    await microtasks();
    assert.equal(seen.now, 2, "two commits under way at once");
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
    const first = g.commit(setsPart("a", 1, "first"));
    await microtasks();
    const rest = ["b", "c", "d"].map((k) => g.commit(setsPart(k, 2, k)));
    await microtasks();
    assert.equal(seen.now, 1);
    assert.ok((await Promise.all([first, ...rest])).every((r) => r.ok));
    assert.equal(seen.most, 1);
    assert.equal(g.stats.commits, 2);
  }));

Deno.test("GroupCommit: with maxInFlight 1 a large group waits too", () =>
  withKv(async (raw) => {
    const { kv, seen } = countingCommits(raw);
    const g = new GroupCommit(kv, { maxInFlight: 1 });
    const first = g.commit(setsPart("k", 1, "first"));
    await microtasks();
    const second = g.commit(setsPart("k", 150, "second"));
    await Promise.all([first, second]);
    assert.equal(seen.most, 1);
    assert.equal((await raw.get(["k"])).value, "second");
  }));
