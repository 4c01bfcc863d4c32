import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { monotonicIdFactory, ValidationError, WriteBatch } from "@jobico/goico";
import type { Execution } from "./execution.ts";
import { ExecutionStore } from "./execution_store.ts";
import { LOG_START } from "./execution_log.ts";

const nextId = monotonicIdFactory();

function exec(i: number, over: Partial<Execution> = {}): Execution {
  return {
    id: nextId(),
    eventId: `e${i}`,
    tenant: "t",
    package: i % 2 ? "odd" : "even",
    event: "ev",
    queue: "q",
    status: i % 3 === 0 ? "failed" : "ok",
    code: 0,
    result: `r${i}`,
    error: null,
    logs: [],
    attempt: 1,
    startedAt: new Date(0).toISOString(),
    durationMs: 1,
    ...over,
  };
}

async function withStore(
  fn: (s: ExecutionStore, kv: Deno.Kv) => Promise<void>,
) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(new ExecutionStore(kv), kv);
  } finally {
    kv.close();
  }
}

async function recordAll(s: ExecutionStore, kv: Deno.Kv, execs: Execution[]) {
  for (const e of execs) {
    assert.ok((await s.record(new WriteBatch(kv), s.fit(e)).commit()).ok);
  }
}

Deno.test("executions list newest first and page with a cursor", async () => {
  await withStore(async (s, kv) => {
    const all = Array.from({ length: 25 }, (_, i) => exec(i));
    await recordAll(s, kv, all);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await s.list("t", { limit: 10, cursor });
      seen.push(...res.executions.map((e) => e.eventId));
      if (!res.cursor) break;
      cursor = res.cursor;
    }
    assert.deepEqual(seen, all.map((e) => e.eventId).reverse());
  });
});

Deno.test("filters by package, event and status combine with paging", async () => {
  await withStore(async (s, kv) => {
    await recordAll(s, kv, Array.from({ length: 30 }, (_, i) => exec(i)));
    const odd = await s.list("t", { package: "odd", limit: 1000 });
    assert.equal(odd.executions.length, 15);
    assert.ok(odd.executions.every((e) => e.package === "odd"));
    const failedOdd = await s.list("t", { package: "odd", status: "failed" });
    assert.deepEqual(failedOdd.executions.map((e) => e.eventId), [
      "e27",
      "e21",
      "e15",
      "e9",
      "e3",
    ]);
    const page1 = await s.list("t", { status: "failed", limit: 4 });
    const page2 = await s.list("t", {
      status: "failed",
      limit: 4,
      cursor: page1.cursor!,
    });
    assert.deepEqual(
      [...page1.executions, ...page2.executions].map((e) => e.eventId),
      [
        "e27",
        "e24",
        "e21",
        "e18",
        "e15",
        "e12",
        "e9",
        "e6",
      ],
    );
    assert.equal((await s.list("t", { event: "other" })).executions.length, 0);
  });
});

Deno.test("limits and cursors are checked", async () => {
  await withStore(async (s) => {
    await assert.rejects(s.list("t", { limit: 0 }), ValidationError);
    await assert.rejects(s.list("t", { limit: 1001 }), /from 1 to 1000/);
    await assert.rejects(s.list("t", { cursor: "../../x" }), /Invalid cursor/);
  });
});

Deno.test("a record too large for one KV value keeps its head and says what was dropped", async () => {
  await withStore(async (s, kv) => {
    const logs = Array.from({ length: 400 }, (_, i) => ({
      level: "info" as const,
      source: "module" as const,
      message: `line ${i} ` + "x".repeat(400),
    }));
    const e = exec(1, { logs, result: "y".repeat(100_000) });
    await recordAll(s, kv, [e]);
    const back = (await s.get("t", e.id))!;
    assert.ok(back.result!.length < 20_000);
    assert.match(back.result!, /truncated/);
    assert.ok(back.logs.length < logs.length);
    assert.equal(back.logs[0].message, logs[0].message);
    assert.match(back.logs.at(-1)!.message, /log lines dropped/);
  });
});

Deno.test("a fitted record's value is its JSON bytes, measured exactly, whatever its characters", () => {
  const s = new ExecutionStore({} as Deno.Kv);
  for (
    const result of [
      "plain",
      "é and ü",
      "€ sign",
      "emoji 🎉 and 😀",
      "lone \ud800 high",
      "lone \udc00 low",
      "pair at end \ud83d\ude00",
    ]
  ) {
    const fitted = s.fit(exec(1, { result }));
    assert.ok(fitted.value instanceof Uint8Array, result);
    assert.equal(fitted.bytes, fitted.value.length, result);
    const back = JSON.parse(new TextDecoder().decode(fitted.value));
    assert.equal(back.result, result);
  }
});

Deno.test("a record kept by V8 is measured as V8 writes it", () => {
  const s = new ExecutionStore({} as Deno.Kv);
  // Control characters: 6 bytes each in JSON, 1 for V8 (2 with a wide one).
  for (const tail of ["", "€"]) {
    const fitted = s.fit(exec(1, { result: "\u0001".repeat(12_000) + tail }));
    assert.equal(fitted.value, fitted.record);
    const exact = serialize(fitted.record).length;
    assert.ok(
      fitted.bytes >= exact && fitted.bytes <= exact + 100,
      `${tail}: ${fitted.bytes} for ${exact}`,
    );
  }
});

Deno.test("a record that fits as JSON but not as V8 writes it is kept whole", async () => {
  await withStore(async (s, kv) => {
    // One character above U+00FF makes V8 store the whole string with two
    // bytes per character: 40,000 ASCII characters and a euro sign are
    // 40 KB of UTF-8 but 80 KB as V8 writes them.
    const wide = "x".repeat(40_000) + "€";
    const logs = [
      { level: "info" as const, source: "module" as const, message: "first" },
      { level: "info" as const, source: "stdout" as const, message: wide },
      { level: "info" as const, source: "module" as const, message: "last" },
    ];
    const e = exec(1, { logs, error: "e".repeat(50_000) + "€" });
    await recordAll(s, kv, [e]);
    const back = (await s.get("t", e.id))!;
    assert.ok(back.error!.length < 5_000);
    assert.match(back.error!, /truncated 4\d{4} chars/);
    assert.deepEqual(back.logs, logs);
  });
});

Deno.test("a record too large as JSON and as V8 loses log lines until V8's measure fits", async () => {
  await withStore(async (s, kv) => {
    const wide = "y".repeat(20_000) + "€"; // 40 KB as V8 writes it
    // 4 lines: 80 KB as JSON, 160 KB as V8 writes them.
    const logs = [0, 1, 2, 3].map((i) => ({
      level: "info" as const,
      source: "stdout" as const,
      message: `${i} ${wide}`,
    }));
    const e = exec(1, { logs });
    await recordAll(s, kv, [e]);
    const back = (await s.get("t", e.id))!;
    assert.ok(back.logs.length < logs.length);
    assert.match(
      back.logs.at(-1)!.message,
      /^\d+ log lines dropped: the record exceeded 61440 bytes$/,
    );
    assert.ok(
      (await kv.get(["exec", "t", e.id])).value instanceof Uint8Array,
      "kept as JSON once trimmed",
    );
  });
});

Deno.test("records are kept as JSON bytes and read back whole by get, list and the log", async () => {
  await withStore(async (s, kv) => {
    const e = exec(1, {
      logs: [{ level: "warn", source: "stderr", message: "é € 🎉 \u0001" }],
      input: { n: 1, nested: [true, null, "x"] },
      chainedFrom: {
        event: "up",
        eventId: nextId(),
        executionId: nextId(),
        code: 3,
      },
    });
    const { input: _, ...noInput } = exec(2);
    await recordAll(s, kv, [e, noInput]);
    const stored = (await kv.get(["exec", "t", e.id])).value;
    assert.ok(stored instanceof Uint8Array, "stored as bytes");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(stored)), e);
    assert.deepEqual(await s.get("t", e.id), e);
    assert.deepEqual(await s.get("t", noInput.id), noInput);
    assert.ok(!("input" in (await s.get("t", noInput.id))!));
    assert.deepEqual((await s.list("t")).executions, [noInput, e]);
    const page = await s.log.read("t", LOG_START);
    assert.deepEqual(page.entries.map((x) => x.execution), [e, noInput]);
  });
});

Deno.test("records kept by V8 (written before JSON, or too large as JSON) are read as well", async () => {
  await withStore(async (s, kv) => {
    // As records were written before: the record itself, with its inbox entry.
    const old = exec(1);
    const op = new WriteBatch(kv);
    s.record(op, s.fit(old));
    op.set(["exec", "t", old.id], old);
    assert.ok((await op.commit()).ok);
    assert.ok(
      !((await kv.get(["exec", "t", old.id])).value instanceof
        Uint8Array),
    );
    // A control character is 1 byte for V8 and 6 in JSON: 15,000 of them
    // fit one KV value only as V8 writes them (15 KB, against 90 KB).
    const controls = exec(2, { result: "\u0001".repeat(15_000) });
    await recordAll(s, kv, [controls]);
    const stored = (await kv.get(["exec", "t", controls.id])).value;
    assert.ok(!(stored instanceof Uint8Array), "kept by V8");
    assert.equal((await s.get("t", controls.id))!.result, controls.result);
    assert.deepEqual(await s.get("t", old.id), old);
    assert.deepEqual((await s.list("t")).executions.map((x) => x.id), [
      controls.id,
      old.id,
    ]);
    const page = await s.log.read("t", LOG_START);
    assert.deepEqual(page.entries.map((x) => x.execution.id), [
      old.id,
      controls.id,
    ]);
  });
});

Deno.test("recordAll records each execution; each tenant's inbox entry, feed and count take one mutation", async () => {
  await withStore(async (s, kv) => {
    const execs = [exec(1), exec(2), exec(3, { tenant: "u" })];
    const op = new WriteBatch(kv);
    s.recordAll(op, execs.map((e) => s.fit(e)));
    // 3 records, and per tenant its inbox entry, its feed and its
    // "recorded" count.
    assert.equal(op.mutations, 3 + 2 * 3);
    assert.ok((await op.commit()).ok);
    assert.deepEqual(
      (await s.list("t")).executions.map((e) => e.id),
      [execs[1].id, execs[0].id],
    );
    // A change announced per record, summed.
    assert.equal(await s.feed("t").position(), 2n);
    assert.equal(await s.feed("u").position(), 1n);
  });
});

/** Records `n` executions of `tenant` made at `at` (ms), in atomics of 300. */
async function recordAt(
  s: ExecutionStore,
  kv: Deno.Kv,
  n: number,
  at: number,
  tenant = "t",
): Promise<string[]> {
  const idAt = monotonicIdFactory(() => at);
  const ids: string[] = [];
  for (let i = 0; i < n; i += 300) {
    const part = Array.from(
      { length: Math.min(300, n - i) },
      (_, j) => s.fit(exec(i + j, { id: idAt(), tenant })),
    );
    assert.ok((await s.recordAll(new WriteBatch(kv), part).commit()).ok);
    ids.push(...part.map((f) => f.record.id));
  }
  return ids;
}

Deno.test("count: what is recorded, less what the sweep removed", async () => {
  await withStore(async (s, kv) => {
    assert.equal(await s.count("t"), 0);
    await recordAt(s, kv, 30, Date.now());
    assert.equal(await s.count("t"), 30);
    assert.equal(await s.count("other"), 0);
    const r = await s.sweep("t", { keep: 12, max: 1000 });
    assert.deepEqual(r, { deleted: 18, done: true });
    assert.equal(await s.count("t"), 12);
  });
});

Deno.test("sweep: the oldest go first, by age and beyond the newest `keep`", async () => {
  await withStore(async (s, kv) => {
    const day = 24 * 3600 * 1000;
    const now = Date.now();
    const old = await recordAt(s, kv, 40, now - 10 * day);
    const recent = await recordAt(s, kv, 60, now - day);
    // By age: what is older than a week goes.
    let r = await s.sweep("t", { before: now - 7 * day, max: 1000 });
    assert.deepEqual(r, { deleted: 40, done: true });
    const left = async () =>
      (await Array.fromAsync(kv.list({ prefix: ["exec", "t"] }))).map((e) =>
        e.key[2]
      );
    assert.deepEqual(await left(), recent);
    // By count: the newest 25 stay.
    r = await s.sweep("t", { keep: 25, max: 1000 });
    assert.deepEqual(r, { deleted: 35, done: true });
    assert.deepEqual(await left(), recent.slice(35));
    // Nothing to do: nothing written.
    const swept = await kv.get(["execcount", "t", "swept"]);
    r = await s.sweep("t", { before: now - 7 * day, keep: 25, max: 1000 });
    assert.deepEqual(r, { deleted: 0, done: true });
    assert.equal(
      (await kv.get(["execcount", "t", "swept"])).versionstamp,
      swept.versionstamp,
    );
    assert.deepEqual(old.length, 40);
  });
});

Deno.test("sweep: thousands of records of the longest tenant name go in atomics within the KV's limits, at most `max` per call", async () => {
  await withStore(async (s, kv) => {
    const tenant = "t".repeat(64);
    const at = Date.now() - 30 * 24 * 3600 * 1000;
    // Half in the log, half still in the inbox (moved by the sweep first).
    await recordAt(s, kv, 3_000, at, tenant);
    assert.ok(await s.log.settle(tenant));
    await recordAt(s, kv, 3_000, at + 1, tenant);
    // A batch asked beyond what one atomic takes is held to 200.
    let r = await s.sweep(tenant, {
      before: Date.now(),
      max: 2_500,
      batch: 5_000,
    });
    assert.deepEqual(r, { deleted: 2_500, done: false });
    r = await s.sweep(tenant, { before: Date.now(), max: 10_000 });
    assert.deepEqual(r, { deleted: 3_500, done: true });
    assert.equal(await s.count(tenant), 0);
    for (const prefix of [["exec"], ["execnew"], ["execlog"]]) {
      assert.deepEqual(await Array.fromAsync(kv.list({ prefix })), []);
    }
  });
});

Deno.test("sweep: a failing guard stops it without removing anything more", async () => {
  await withStore(async (s, kv) => {
    await recordAt(s, kv, 50, Date.now() - 1000);
    const r = await s.sweep("t", {
      keep: 0,
      max: 1000,
      batch: 20,
      guard: () =>
        Promise.resolve([{
          key: ["lease"],
          versionstamp: "00000000000000000001",
        }]),
    });
    assert.deepEqual(r, { deleted: 0, done: false });
    assert.equal(await s.count("t"), 50);
  });
});
