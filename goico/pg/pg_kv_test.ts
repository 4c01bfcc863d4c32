/**
 * PgKv against Deno KV itself: every scenario runs on a real Deno KV
 * (`:memory:`) and on PgKv (a new database of the tests' PostgreSQL), and
 * what they answer must be the same (keys, order, cursors, values, errors),
 * besides the semantics each asserts.
 */
import assert from "node:assert/strict";
import { openPgKv, PgKv } from "./pg_kv.ts";
import { pgTestDatabase, pgTestUrl } from "./pg_test_database.ts";

const PG = await pgTestUrl();

interface Store {
  kv: Deno.Kv;
  /** A second handle on the same store (another node's pool), if any. */
  other(): Promise<Deno.Kv>;
  close(): Promise<void>;
}

const BACKENDS: { name: string; ignore: boolean; open(): Promise<Store> }[] = [
  {
    name: "Deno KV",
    ignore: false,
    open: async () => {
      const kv = await Deno.openKv(":memory:");
      return {
        kv,
        other: () => Promise.resolve(kv),
        close: () => Promise.resolve(kv.close()),
      };
    },
  },
  {
    name: "PgKv",
    ignore: !PG,
    open: async () => {
      const url = await pgTestDatabase();
      const kv = await openPgKv(url, { watchPollMs: 0 });
      const others: PgKv[] = [];
      return {
        kv,
        other: async () => {
          const o = await openPgKv(url, { watchPollMs: 0 });
          others.push(o);
          return o;
        },
        close: async () => {
          for (const o of others) await o.closed();
          await kv.closed();
        },
      };
    },
  },
];

/** Registers `fn` for each backend. */
function both(name: string, fn: (s: Store) => Promise<void>) {
  for (const b of BACKENDS) {
    Deno.test({
      name: `${name} (${b.name})`,
      ignore: b.ignore,
      fn: async () => {
        const s = await b.open();
        try {
          await fn(s);
        } finally {
          await s.close();
        }
      },
    });
  }
}

/** Runs `scenario` on each backend; their transcripts must be equal. */
function same(name: string, scenario: (kv: Deno.Kv) => Promise<unknown>) {
  Deno.test({
    name: `${name}: PgKv answers as Deno KV does`,
    ignore: !PG,
    fn: async () => {
      const out: unknown[] = [];
      for (const b of BACKENDS) {
        const s = await b.open();
        try {
          out.push(await scenario(s.kv));
        } finally {
          await s.close();
        }
      }
      assert.deepEqual(out[1], out[0]);
    },
  });
}

/** What an operation answered, or the error it threw (class and message). */
async function outcome(f: () => unknown): Promise<unknown> {
  try {
    const v = await f();
    return { ok: stripStamps(v) };
  } catch (err) {
    return {
      threw: (err as Error).constructor.name,
      message: (err as Error).message,
    };
  }
}

/** Versionstamps differ between stores; that they exist does not. */
function stripStamps(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripStamps);
  if (v && typeof v === "object" && "versionstamp" in v) {
    const o = { ...(v as Record<string, unknown>) };
    o.versionstamp = o.versionstamp === null ? null : "stamp";
    return o;
  }
  return v;
}

async function all<T>(it: Deno.KvListIterator<T>): Promise<Deno.KvEntry<T>[]> {
  const out: Deno.KvEntry<T>[] = [];
  for await (const e of it) out.push(e);
  return out;
}

const KEY_PARTS: Deno.KvKeyPart[] = [
  "",
  "\0",
  "\0\0x",
  "a",
  "a\0",
  "ab",
  "é",
  "\u{1F600}",
  "\uffff",
  new Uint8Array([]),
  new Uint8Array([0]),
  new Uint8Array([0, 0xff]),
  new Uint8Array([0xff]),
  new Uint8Array([1, 2, 3]),
  -Infinity,
  -1e300,
  -1.5,
  -Number.MIN_VALUE,
  -0,
  0,
  Number.MIN_VALUE,
  1,
  2 ** 53,
  Infinity,
  NaN,
  -(2n ** 80n),
  -(2n ** 64n),
  -(2n ** 63n),
  -256n,
  -255n,
  -1n,
  0n,
  1n,
  255n,
  256n,
  2n ** 63n,
  2n ** 64n,
  2n ** 80n,
  false,
  true,
];

/** A seeded shuffle, so a failure repeats. */
function shuffled<T>(xs: T[], seed = 7): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const show = (key: Deno.KvKey) =>
  key.map((p) =>
    typeof p === "bigint"
      ? `${p}n`
      : p instanceof Uint8Array
      ? `b[${[...p]}]`
      : typeof p === "number"
      ? (Object.is(p, -0) ? "-0" : String(p))
      : JSON.stringify(p)
  ).join(",");

same("keys of every type sort as Deno KV sorts them", async (kv) => {
  const keys: Deno.KvKey[] = [];
  for (const p of KEY_PARTS) {
    keys.push(["k", p]);
    keys.push(["k", p, "more"]);
  }
  keys.push(["k"], ["j"], ["l"], ["k", "a", 1n], ["k", "a", 1]);
  for (const key of shuffled(keys)) await kv.set(key, show(key));
  const listed = await all(kv.list({ prefix: [] }));
  // Each key comes back as it was set.
  for (const e of listed) assert.equal(show(e.key), e.value);
  return listed.map((e) => e.value);
});

same("list ranges, reverse, limits and cursors", async (kv) => {
  for (let i = 0; i < 12; i++) await kv.set(["r", i], i);
  await kv.set(["r"], "self");
  await kv.set(["q", 1], "before");
  await kv.set(["s", 1], "after");
  const t: unknown[] = [];
  const page = async (
    sel: Deno.KvListSelector,
    opts: Deno.KvListOptions,
  ) => {
    const it = kv.list(sel, opts);
    const got = (await all(it)).map((e) => e.value);
    return { got, cursor: it.cursor };
  };
  const selectors: Deno.KvListSelector[] = [
    { prefix: ["r"] },
    { prefix: ["r"], start: ["r", 3] },
    { prefix: ["r"], end: ["r", 7] },
    { start: ["r", 2], end: ["r", 9] },
    { start: ["q"], end: ["s", 2] },
    { prefix: [] },
  ];
  for (const sel of selectors) {
    for (const reverse of [false, true]) {
      t.push(await page(sel, { reverse }));
      t.push(await page(sel, { reverse, limit: 3 }));
      t.push(await page(sel, { reverse, batchSize: 2 }));
      // Page through with cursors, two at a time.
      let cursor: string | undefined = undefined;
      const pages: unknown[] = [];
      for (let n = 0; n < 20; n++) {
        const p: { got: unknown[]; cursor: string } = await page(sel, {
          reverse,
          limit: 2,
          cursor,
        });
        pages.push(p);
        if (p.got.length < 2 || p.cursor === "") break;
        cursor = p.cursor;
      }
      t.push(pages);
    }
  }
  const it = kv.list({ prefix: ["r"] });
  t.push(await outcome(() => it.cursor));
  t.push(await outcome(() => all(kv.list({ prefix: ["r"], start: ["s"] }))));
  t.push(await outcome(() => all(kv.list({ prefix: ["r"], end: ["s"] }))));
  t.push(await outcome(() => all(kv.list({ start: ["s"], end: ["r"] }))));
  t.push(
    await outcome(() => all(kv.list({ prefix: ["r"] }, { cursor: "!!" }))),
  );
  t.push(
    await outcome(() =>
      all(kv.list({ prefix: ["r"], start: ["r", 5] }, { cursor: "AA==" }))
    ),
  );
  t.push(await outcome(() => all(kv.list({ prefix: ["r"] }, { limit: 0 }))));
  t.push(
    await outcome(() => all(kv.list({ prefix: ["r"] }, { batchSize: 1001 }))),
  );
  return t;
});

const VALUES: [string, () => unknown][] = [
  ["string", () => "héllo \u{1F600}"],
  ["empty string", () => ""],
  ["number", () => 1.5],
  ["-0", () => -0],
  ["NaN", () => NaN],
  ["Infinity", () => -Infinity],
  ["bigint", () => -(2n ** 100n)],
  ["boolean", () => true],
  ["null", () => null],
  ["undefined", () => undefined],
  ["date", () => new Date(86_400_000)],
  ["regexp", () => /a+b/gi],
  ["map", () => new Map<unknown, unknown>([["a", 1], [2, { b: [3] }]])],
  ["set", () => new Set([1, "two"])],
  ["object", () => ({ a: 1, b: [true, null, "x"], c: { d: undefined } })],
  ["object with __proto__ key", () => JSON.parse('{"__proto__": 1, "a": 2}')],
  ["array with holes", () => [1, , 3]],
  ["array with a property", () => Object.assign([1, 2], { extra: "x" })],
  ["cycle", () => {
    const o: Record<string, unknown> = { name: "loop" };
    o.self = o;
    return o;
  }],
  ["shared object", () => {
    const shared = { x: 1 };
    return [shared, shared];
  }],
  ["Uint8Array", () => new Uint8Array([0, 1, 255])],
  ["empty Uint8Array", () => new Uint8Array([])],
  ["Int16Array", () => new Int16Array([-2, 3])],
  ["ArrayBuffer", () => new Uint8Array([9, 8]).buffer],
  ["KvU64", () => new Deno.KvU64(2n ** 64n - 1n)],
  ["KvU64 zero", () => new Deno.KvU64(0n)],
  ["error", () => new RangeError("boom")],
  ["lone surrogate", () => "\ud800x"],
  ["largest Uint8Array", () => new Uint8Array(65_536)],
  ["too large Uint8Array", () => new Uint8Array(65_537)],
  ["large string", () => "x".repeat(65_000)],
  ["too large string", () => "x".repeat(65_534)],
  ["too large wide string", () => "é\u0100".repeat(16_400)],
  ["function", () => () => 1],
  ["symbol", () => Symbol("s")],
];

for (const [name, make] of VALUES) {
  same(`a value: ${name}`, async (kv) => {
    const put = await outcome(() => kv.set(["v"], make()));
    const got = (await kv.get(["v"])).value;
    return {
      put,
      got,
      type: Object.prototype.toString.call(got),
      proto: got && typeof got === "object"
        ? Object.getPrototypeOf(got)?.constructor?.name
        : null,
    };
  });
}

same("the limits of keys, values and atomics, and their errors", async (kv) => {
  const t: unknown[] = [];
  const op = (f: (op: Deno.AtomicOperation) => void) =>
    outcome(() => {
      const a = kv.atomic();
      f(a);
      return a.commit();
    });
  t.push(await outcome(() => kv.set([], 1)));
  t.push(await outcome(() => kv.get([])));
  t.push(await outcome(() => kv.set(["x".repeat(2043)], 1)));
  t.push(await outcome(() => kv.set(["x".repeat(2044)], 1)));
  t.push(await outcome(() => kv.get(["x".repeat(2044)])));
  t.push(await outcome(() => kv.get(["x".repeat(2045)])));
  t.push(
    await outcome(() =>
      kv.getMany(Array.from({ length: 11 }, (_, i) => ["k", i]))
    ),
  );
  for (const n of [100, 101]) {
    t.push(
      await op((a) => {
        for (let i = 0; i < n; i++) {
          a.check({ key: ["c", i], versionstamp: null });
        }
      }),
    );
  }
  for (const n of [1000, 1001]) {
    t.push(
      await op((a) => {
        for (let i = 0; i < n; i++) a.set(["m", i], i);
      }),
    );
  }
  t.push(
    await op((a) => {
      for (let i = 0; i < 13; i++) a.set(["big", i], new Uint8Array(62_000));
    }),
  );
  t.push(
    await op((a) => {
      for (let i = 0; i < 14; i++) a.set(["big", i], new Uint8Array(62_000));
    }),
  );
  // Deletes and checks count towards the total size, not the keys' total.
  t.push(
    await op((a) => {
      for (let i = 0; i < 60; i++) a.delete(["d".repeat(2000), i]);
    }),
  );
  t.push(
    await op((a) => {
      for (let i = 0; i < 60; i++) a.sum(["d".repeat(2000), i], 1n);
    }),
  );
  t.push(
    await op((a) => {
      for (let i = 0; i < 40; i++) a.set(["d".repeat(2000), i], 1);
    }),
  );
  t.push(
    await op((a) => {
      for (let i = 0; i < 41; i++) a.set(["d".repeat(2000), i], 1);
    }),
  );
  t.push(
    await op((a) => {
      for (let i = 0; i < 100; i++) {
        a.check({ key: ["e".repeat(2000), i], versionstamp: null });
      }
      for (let i = 0; i < 13; i++) a.set(["big", i], new Uint8Array(62_000));
    }),
  );
  t.push(
    await op((a) => {
      for (let i = 0; i < 500; i++) a.delete(["d".repeat(2000), i]);
    }),
  );
  t.push(await op((a) => a.check({ key: ["a"], versionstamp: "zz" })));
  for (const expireIn of [0, 1, -1, 1.5, NaN, Infinity, 2 ** 60]) {
    t.push(await outcome(() => kv.set(["exp"], 1, { expireIn })));
  }
  t.push(await op((a) => a.sum(["u"], -1n)));
  t.push(await op((a) => a.sum(["u"], 2n ** 64n)));
  t.push(
    await outcome(() =>
      kv.watch(Array.from({ length: 11 }, (_, i) => ["w", i]))
    ),
  );
  return t;
});

same("sum, min and max", async (kv) => {
  const t: unknown[] = [];
  const u = (n: bigint) => new Deno.KvU64(n);
  const step = async (
    f: (a: Deno.AtomicOperation) => void,
    key: Deno.KvKey,
  ) => {
    const a = kv.atomic();
    f(a);
    t.push(await outcome(() => a.commit()));
    t.push((await kv.get(key)).value);
  };
  await step((a) => a.sum(["s"], 5n), ["s"]);
  await step((a) => a.sum(["s"], 2n ** 64n - 3n), ["s"]);
  await step((a) => a.sum(["s"], 1n).sum(["s"], 1n), ["s"]);
  await step((a) => a.min(["mn"], 9n), ["mn"]);
  await step((a) => a.min(["mn"], 4n).min(["mn"], 7n), ["mn"]);
  await step((a) => a.max(["mx"], 4n), ["mx"]);
  await step((a) => a.max(["mx"], 2n).max(["mx"], 11n), ["mx"]);
  await step((a) => a.sum(["mix"], 10n).min(["mix"], 3n).max(["mix"], 8n), [
    "mix",
  ]);
  await step((a) => a.set(["f"], u(5n)).sum(["f"], 3n), ["f"]);
  await step((a) => a.sum(["g"], 3n).set(["g"], u(1n)), ["g"]);
  await step((a) => a.delete(["f"]).sum(["f"], 4n), ["f"]);
  await step((a) => a.sum(["f"], 4n).delete(["f"]), ["f"]);
  await kv.set(["str"], "text");
  await step((a) => a.sum(["str"], 1n), ["str"]);
  await step((a) => a.min(["str"], 1n), ["str"]);
  await step((a) => a.max(["str"], 1n), ["str"]);
  // What such a failed commit leaves differs (see the next test): only
  // the error is compared.
  t.push(
    await outcome(() =>
      kv.atomic().set(["str2"], "x").sum(["str2"], 1n).commit()
    ),
  );
  await step((a) => a.mutate({ type: "sum", key: ["mut"], value: u(2n) }), [
    "mut",
  ]);
  await step((a) => a.set(["sd"], 1).delete(["sd"]), ["sd"]);
  await step((a) => a.delete(["sd"]).set(["sd"], 2), ["sd"]);
  return t;
});

Deno.test({
  name:
    "a sum on a value that is no KvU64 writes nothing of its atomic on PostgreSQL",
  ignore: !PG,
  fn: async () => {
    // Deno KV's SQLite backend throws the same error but keeps the
    // atomic's other mutations (measured with Deno 2.9.6); all or nothing
    // is what an atomic promises, and what PgKv does.
    const kv = await openPgKv(await pgTestDatabase());
    try {
      await kv.set(["text"], "x");
      await assert.rejects(
        () => kv.atomic().set(["other"], 1).sum(["text"], 1n).commit(),
        new TypeError(
          "Failed to perform 'sum' mutation on a non-U64 value in the database",
        ),
      );
      await assert.rejects(
        () => kv.atomic().set(["new"], "x").sum(["new"], 1n).commit(),
        TypeError,
      );
      assert.equal((await kv.get(["other"])).versionstamp, null);
      assert.equal((await kv.get(["new"])).versionstamp, null);
      assert.equal((await kv.get(["text"])).value, "x");
    } finally {
      await kv.closed();
    }
  },
});

both(
  "versionstamps: 20 hex digits, one per commit, growing",
  async ({ kv }) => {
    const a = await kv.set(["a"], 1);
    const b = await kv.atomic().set(["b"], 1).set(["c"], 2).sum(["d"], 1n)
      .commit();
    assert.ok(b.ok);
    assert.match(a.versionstamp, /^[0-9a-f]{20}$/);
    assert.ok(b.versionstamp > a.versionstamp);
    const [eb, ec, ed] = await kv.getMany([["b"], ["c"], ["d"]]);
    assert.deepEqual(
      [eb.versionstamp, ec.versionstamp, ed.versionstamp],
      [b.versionstamp, b.versionstamp, b.versionstamp],
    );
    assert.equal((await kv.get(["a"])).versionstamp, a.versionstamp);
    // A failed check leaves everything as it was.
    const failed = await kv.atomic().check({ key: ["a"], versionstamp: null })
      .set(["a"], 2).set(["z"], 1).commit();
    assert.equal(failed.ok, false);
    assert.equal((await kv.get(["a"])).value, 1);
    assert.equal((await kv.get(["z"])).versionstamp, null);
    // The same key checked twice with different stamps never holds.
    const twice = await kv.atomic().check({ key: ["a"], versionstamp: null })
      .check({ key: ["a"], versionstamp: a.versionstamp }).commit();
    assert.equal(twice.ok, false);
    const ok = await kv.atomic().check({
      key: ["a"],
      versionstamp: a.versionstamp,
    })
      .check({ key: ["none"], versionstamp: null }).set(["a"], 3).commit();
    assert.ok(ok.ok);
  },
);

both("checks hold under concurrency, also for absent keys", async (s) => {
  const kvs = [s.kv, await s.other(), await s.other()];
  // Many writers race to create the same absent key: one wins each round.
  for (let round = 0; round < 5; round++) {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        kvs[i % 3].atomic()
          .check({ key: ["once", round], versionstamp: null })
          .set(["once", round], i)
          .sum(["created"], 1n)
          .commit()),
    );
    assert.equal(results.filter((r) => r.ok).length, 1, `round ${round}`);
  }
  assert.equal((await s.kv.get<Deno.KvU64>(["created"])).value?.value, 5n);
  // Read-check-write increments from several handles: none is lost.
  const workers = 6;
  const each = 15;
  let conflicts = 0;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    const kv = kvs[w % 3];
    for (let i = 0; i < each; i++) {
      for (;;) {
        const e = await kv.get<number>(["counter"]);
        const r = await kv.atomic().check(e).set(
          ["counter"],
          (e.value ?? 0) + 1,
        )
          .commit();
        if (r.ok) break;
        conflicts++;
      }
    }
  }));
  assert.equal((await s.kv.get(["counter"])).value, workers * each);
  // Sums never conflict and never lose an increment.
  await Promise.all(
    Array.from(
      { length: 30 },
      (_, i) => kvs[i % 3].atomic().sum(["sum"], 2n).commit(),
    ),
  );
  assert.equal((await s.kv.get<Deno.KvU64>(["sum"])).value?.value, 60n);
  // A key's versionstamps only grow, whoever wrote it.
  const stamps = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
    const r = await kvs[i % 3].atomic().sum(["grow"], 1n).set(["grow-" + i], i)
      .commit();
    return r.ok ? r.versionstamp : "";
  }));
  const last = (await s.kv.get(["grow"])).versionstamp!;
  assert.ok(stamps.every((v) => v <= last));
  assert.ok(conflicts >= 0);
});

both(
  "swapping two keys from both sides at once: no deadlock, no loss",
  async (s) => {
    const kvs = [s.kv, await s.other()];
    await s.kv.set(["x"], 0);
    await s.kv.set(["y"], 0);
    // Each commit checks one key and writes the other: the opposite orders
    // of two nodes must neither hang nor lose a write.
    let done = 0;
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const kv = kvs[i % 2];
      const [a, b] = i % 2 ? [["x"], ["y"]] : [["y"], ["x"]];
      for (;;) {
        const e = await kv.get<number>(a);
        const r = await kv.atomic().check(e).set(a, (e.value ?? 0) + 1)
          .sum(["total"], 1n).set(b, i).commit();
        if (r.ok) break;
      }
      done++;
    }));
    assert.equal(done, 20);
    assert.equal((await s.kv.get<Deno.KvU64>(["total"])).value?.value, 20n);
    const x = (await s.kv.get<number>(["x"])).value!;
    const y = (await s.kv.get<number>(["y"])).value!;
    assert.equal(typeof x, "number");
    assert.equal(typeof y, "number");
  },
);

both(
  "watch yields at once, then on each change, from any handle",
  async (s) => {
    const other = await s.other();
    await s.kv.set(["w", 1], "a");
    const reader = s.kv.watch([["w", 1], ["w", 2]]).getReader();
    const first = await reader.read();
    assert.deepEqual(first.value!.map((e) => e.value), ["a", null]);
    // A change made through another handle (another node) wakes it.
    const t0 = performance.now();
    const r = await other.set(["w", 2], "b");
    const next = await reader.read();
    const ms = performance.now() - t0;
    assert.deepEqual(next.value!.map((e) => e.value), ["a", "b"]);
    assert.equal(next.value![1].versionstamp, r.versionstamp);
    console.log(`watch woke ${ms.toFixed(1)} ms after the commit`);
    // Changes to keys it does not watch do not wake it; the next one does.
    await other.set(["w", 3], "unwatched");
    await other.atomic().sum(["w", 1], 1n).commit().catch(() => {});
    await other.set(["w", 1], "c");
    let seen = (await reader.read()).value!;
    while (seen[0].value !== "c") seen = (await reader.read()).value!;
    assert.deepEqual(seen.map((e) => e.value), ["c", "b"]);
    await reader.cancel();
  },
);

Deno.test({
  name: "watch on PostgreSQL: the poll finds a change when no one notifies",
  ignore: !PG,
  fn: async () => {
    const url = await pgTestDatabase();
    const kv = await openPgKv(url, { watchPollMs: 50 });
    try {
      const reader = kv.watch([["quiet"]]).getReader();
      assert.equal((await reader.read()).value![0].versionstamp, null);
      // A write behind the store's back: the trigger's row is gone.
      const other = await openPgKv(url);
      await other.closed();
      const postgres = (await import("postgres")).default;
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      await sql`delete from jobico_kv_watched`;
      await sql.end();
      const fresh = await openPgKv(url, { watchPollMs: 0 });
      await fresh.set(["quiet"], 1);
      await fresh.closed();
      const next = await reader.read();
      assert.equal(next.value![0].value, 1);
      await reader.cancel();
    } finally {
      await kv.closed();
    }
  },
});

Deno.test({
  name: "expireIn on PostgreSQL: the entry is there until the sweep, then gone",
  ignore: !PG,
  fn: async () => {
    const url = await pgTestDatabase();
    const kv = await openPgKv(url, { expirySweepMs: 20 });
    try {
      const r = await kv.atomic().set(["short"], 1, { expireIn: 50 })
        .set(["long"], 2, { expireIn: 3_600_000 }).set(["plain"], 3).commit();
      assert.ok(r.ok);
      // Overwriting without expireIn keeps the entry.
      await kv.set(["kept"], 1, { expireIn: 50 });
      await kv.set(["kept"], 2);
      const deadline = Date.now() + 10_000;
      while ((await kv.get(["short"])).versionstamp !== null) {
        assert.ok(Date.now() < deadline, "the expired entry was never swept");
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal((await kv.get(["long"])).value, 2);
      assert.equal((await kv.get(["plain"])).value, 3);
      assert.equal((await kv.get(["kept"])).value, 2);
    } finally {
      await kv.closed();
    }
  },
});

Deno.test({
  name: "migrations: nodes opening a new database at once apply them once",
  ignore: !PG,
  fn: async () => {
    const url = await pgTestDatabase();
    const kvs = await Promise.all(
      Array.from({ length: 5 }, () => openPgKv(url, { connections: 2 })),
    );
    try {
      await kvs[0].set(["k"], 1);
      assert.equal((await kvs[4].get(["k"])).value, 1);
      const postgres = (await import("postgres")).default;
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const rows =
        await sql`select version from jobico_schema order by version`;
      await sql.end();
      assert.deepEqual(rows.map((r) => r.version), [1]);
    } finally {
      for (const kv of kvs) await kv.closed();
    }
  },
});

Deno.test({
  name: "PgKv refuses what it does not support, naming it",
  ignore: !PG,
  fn: async () => {
    const kv = await openPgKv(await pgTestDatabase());
    try {
      await assert.rejects(
        () => kv.enqueue("x"),
        /kv\.enqueue is not supported/,
      );
      assert.throws(() => kv.commitVersionstamp(), /versionstamps in keys/);
    } finally {
      await kv.closed();
    }
  },
});

both(
  "a Uint8Array view is stored as its own bytes, not its buffer's",
  async ({ kv }) => {
    // As goico's encodeUtf8 hands out records: views inside one buffer.
    const buffer = new TextEncoder().encode("headFIRSTmiddleSECONDtail");
    const first = buffer.subarray(4, 9);
    const second = buffer.subarray(15, 21);
    const op = kv.atomic().set(["view", 1], first).set(["view", 2], second);
    assert.equal((await op.commit()).ok, true);
    await kv.set(["view", 3], second);
    const got = await kv.getMany<Uint8Array[]>([
      ["view", 1],
      ["view", 2],
      ["view", 3],
    ]);
    const text = got.map((e) => new TextDecoder().decode(e.value!));
    assert.deepEqual(text, ["FIRST", "SECOND", "SECOND"]);
  },
);
