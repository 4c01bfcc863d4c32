import assert from "node:assert/strict";
import { monotonicIdFactory, WriteBatch } from "@jobico/goico";
import type { Execution } from "./execution.ts";
import { LOG_START } from "./execution_log.ts";
import { ExecutionStore } from "./execution_store.ts";

async function withStore(
  fn: (s: ExecutionStore, kv: Deno.Kv) => Promise<void>,
) {
  const kv = await Deno.openKv(":memory:");
  const s = new ExecutionStore(kv);
  try {
    await fn(s, kv);
  } finally {
    await s.settled();
    kv.close();
  }
}

function exec(id: string, tenant = "t"): Execution {
  return {
    id,
    eventId: `e-${id}`,
    tenant,
    package: "p",
    event: "ev",
    queue: "q",
    status: "ok",
    code: 0,
    result: null,
    error: null,
    logs: [],
    attempt: 1,
    startedAt: new Date(0).toISOString(),
    durationMs: 1,
  };
}

/** Commits the records of `ids` in one atomic, as the executor does. */
async function commit(
  s: ExecutionStore,
  kv: Deno.Kv,
  ids: string[],
): Promise<string> {
  const batch = new WriteBatch(kv);
  for (const id of ids) s.record(batch, s.fit(exec(id)));
  const res = await batch.commit();
  assert.ok(res.ok);
  return res.versionstamp;
}

/** Everything after `from`, read in pages of `limit`. */
async function readAll(
  s: ExecutionStore,
  from = LOG_START,
  limit = 1000,
): Promise<string[]> {
  const out: string[] = [];
  let at = from;
  for (;;) {
    const page = await s.log.read("t", at, limit);
    assert.ok(page.through >= at);
    out.push(...page.entries.map((e) => e.execution.id));
    at = page.through;
    if (!page.more) return out;
  }
}

const keysUnder = async (kv: Deno.Kv, prefix: Deno.KvKey) =>
  (await Array.fromAsync(kv.list({ prefix }))).length;

/** The ids held by the entries under a prefix (inbox or log). */
const idsUnder = async (kv: Deno.Kv, prefix: Deno.KvKey) =>
  (await Array.fromAsync(kv.list<string[]>({ prefix })))
    .flatMap((e) => e.value);

Deno.test("the log is in commit order, not id order: a record committed after a larger id comes after it, once", async () => {
  await withStore(async (s, kv) => {
    const ahead = monotonicIdFactory(() => Date.now() + 60_000);
    const onTime = monotonicIdFactory();
    const a = ahead();
    const b = [onTime(), onTime()];
    const c = ahead();
    const d = onTime();
    await commit(s, kv, [a]);
    const first = await s.log.read("t", LOG_START);
    assert.deepEqual(first.entries.map((e) => e.execution.id), [a]);
    // Committed after a was read, with smaller ids.
    await commit(s, kv, b);
    await commit(s, kv, [c]);
    // Half moved to the log, half still in the inbox: one read of both.
    assert.ok(await s.log.settle("t"));
    await commit(s, kv, [d]);
    const next = await s.log.read("t", first.through);
    assert.deepEqual(next.entries.map((e) => e.execution.id), [...b, c, d]);
    assert.equal(next.more, false);
    // Nothing more, and nothing twice.
    const none = await s.log.read("t", next.through);
    assert.deepEqual(none.entries, []);
    assert.equal(none.through, next.through);
    assert.deepEqual(await readAll(s), [a, ...b, c, d]);
    // In pages of 1, the same.
    assert.deepEqual(await readAll(s, LOG_START, 1), [a, ...b, c, d]);
  });
});

Deno.test("end: where a new stream starts and the last id before it; after: where a resume starts", async () => {
  await withStore(async (s, kv) => {
    assert.deepEqual(await s.log.end("t"), {
      position: LOG_START,
      lastId: null,
    });
    const ahead = monotonicIdFactory(() => Date.now() + 60_000);
    const onTime = monotonicIdFactory();
    const a = ahead();
    const b = onTime();
    await commit(s, kv, [a]);
    await s.log.settle("t");
    await commit(s, kv, [b]);
    // The last committed (b, in the inbox), not the largest id (a).
    const end = await s.log.end("t");
    assert.equal(end.lastId, b);
    const c = onTime();
    await commit(s, kv, [c]);
    assert.deepEqual(
      (await s.log.read("t", end.position)).entries.map((e) => e.execution.id),
      [c],
    );
    // After a kept id: what was committed after it.
    assert.deepEqual(await readAll(s, await s.log.after("t", a)), [b, c]);
    assert.deepEqual(await readAll(s, await s.log.after("t", c)), []);
    // After an id no longer kept: from the commit of the next id kept.
    const gone = onTime();
    const kept = onTime();
    await commit(s, kv, [gone]);
    await commit(s, kv, [kept]);
    await kv.delete(["exec", "t", gone]);
    assert.deepEqual(await readAll(s, await s.log.after("t", gone)), [kept]);
    // After an id beyond every one: nothing, then what comes.
    const beyond = "z".repeat(19);
    const from = await s.log.after("t", beyond);
    assert.deepEqual(await readAll(s, from), []);
    const last = onTime();
    await commit(s, kv, [last]);
    assert.deepEqual(await readAll(s, from), [last]);
  });
});

Deno.test("committed moves the inbox to the log in the background, with what a process that died left there; settled waits for it", async () => {
  await withStore(async (s, kv) => {
    const ids = Array.from({ length: 450 }, monotonicIdFactory());
    // Left by a process that died before moving them.
    await commit(s, kv, ids.slice(0, 50));
    for (let i = 50; i < ids.length; i += 50) {
      const part = ids.slice(i, i + 50);
      const versionstamp = await commit(s, kv, part);
      s.committed(part.map((id) => ({ tenant: "t", id })), versionstamp);
    }
    await s.settled();
    assert.equal(await keysUnder(kv, ["execnew", "t"]), 0);
    // One log entry per commit, holding its ids.
    assert.equal(await keysUnder(kv, ["execlog", "t"]), 9);
    assert.deepEqual((await idsUnder(kv, ["execlog", "t"])).sort(), ids);
    assert.deepEqual(await readAll(s), ids);
  });
});

Deno.test("a read finds more than 1000 executions left in the inbox (their recorder died before moving them): it moves them first, and gets them all in commit order", async () => {
  await withStore(async (s, kv) => {
    const tenant = "t";
    const newId = monotonicIdFactory();
    const ids: string[] = [];
    for (let i = 0; i < 1_500; i += 250) {
      const part = Array.from({ length: 250 }, newId);
      await commit(s, kv, part);
      ids.push(...part);
    }
    assert.equal((await idsUnder(kv, ["execnew", tenant])).length, 1_500);
    const page = await s.log.read(tenant, LOG_START, 100);
    assert.deepEqual(
      page.entries.map((e) => e.execution.id),
      ids.slice(0, 100),
    );
    assert.equal(await keysUnder(kv, ["execnew", tenant]), 0);
    assert.deepEqual(await readAll(s, page.through, 300), ids.slice(100));
  });
});

Deno.test("move and settle take thousands of entries of the longest tenant name in atomics within the KV's limits", async () => {
  await withStore(async (s, kv) => {
    const tenant = "t".repeat(64);
    const newId = monotonicIdFactory();
    const committed: { versionstamp: string; ids: string[] }[] = [];
    for (let i = 0; i < 3_000; i += 300) {
      const batch = new WriteBatch(kv);
      const ids = Array.from({ length: 300 }, newId);
      for (const id of ids) s.record(batch, s.fit(exec(id, tenant)));
      const res = await batch.commit();
      assert.ok(res.ok);
      committed.push({ versionstamp: res.versionstamp, ids });
    }
    // Half moved as their recorder does (a check each), half read and moved.
    await s.log.move(tenant, committed.slice(0, 5));
    assert.equal((await idsUnder(kv, ["execnew", tenant])).length, 1_500);
    assert.equal(await s.log.settle(tenant), true);
    assert.equal(await keysUnder(kv, ["execnew", tenant]), 0);
    assert.equal((await idsUnder(kv, ["execlog", tenant])).length, 3_000);
  });
});

Deno.test("a move does not bring back the log entry of a record moved by another process and swept since it was committed", async () => {
  await withStore(async (s, kv) => {
    // One factory for both, so that `more` sorts after `ids` (two factories
    // in the same millisecond interleave theirs).
    const newId = monotonicIdFactory();
    const ids = Array.from({ length: 5 }, newId);
    const versionstamp = await commit(s, kv, ids);
    // Moved (the sweeper's counter seen) before the sweep.
    await s.log.settle("t");
    const more = Array.from({ length: 3 }, newId);
    const later = await commit(s, kv, more);
    await s.sweep("t", { keep: 4, max: 10 });
    await s.log.move("t", [
      { versionstamp, ids },
      { versionstamp: later, ids: more },
    ]);
    assert.equal(await keysUnder(kv, ["execnew", "t"]), 0);
    const logged = await idsUnder(kv, ["execlog", "t"]);
    assert.deepEqual(logged.sort(), [...ids, ...more].slice(4).sort());
  });
});

Deno.test("a settle does not bring back the log entry of a record the sweeper removed meanwhile", async () => {
  await withStore(async (s, kv) => {
    const ids = Array.from({ length: 5 }, monotonicIdFactory());
    await commit(s, kv, ids);
    // The sweeper goes between a settle's reads and its commit: the
    // settle's check of the sweeper's counter refuses it, and the next
    // round moves what is left.
    const realGet = kv.get.bind(kv);
    let swept = false;
    const racing = new Proxy(kv, {
      get(target, prop) {
        if (prop === "get") {
          return async (key: Deno.KvKey) => {
            const got = await realGet(key);
            if (!swept && key[0] === "execcount" && key[2] === "swept") {
              swept = true;
              await s.sweep("t", { keep: 3, max: 10 });
            }
            return got;
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const s2 = new ExecutionStore(racing);
    assert.equal(await s2.log.settle("t"), true);
    assert.ok(swept);
    assert.equal(await keysUnder(kv, ["execnew", "t"]), 0);
    const logged = await idsUnder(kv, ["execlog", "t"]);
    assert.deepEqual(logged.sort(), ids.slice(2));
    assert.deepEqual(await readAll(s), ids.slice(2));
  });
});

Deno.test("entries of one execution written by an earlier version are read, moved and swept with the rest", async () => {
  await withStore(async (s, kv) => {
    const newId = monotonicIdFactory();
    /** A commit as versions before 2026-12-04 made it: an inbox entry per record. */
    const legacyCommit = async (ids: string[]) => {
      const op = kv.atomic();
      for (const id of ids) {
        op.set(["exec", "t", id], s.fit(exec(id)).record);
        op.set(["execnew", "t", id], 1);
      }
      op.sum(["execcount", "t", "recorded"], BigInt(ids.length));
      const res = await op.commit();
      assert.ok(res.ok);
      return res.versionstamp;
    };
    const moved = [newId(), newId()];
    const vs = await legacyCommit(moved);
    // Moved to the log as that version did: a log entry per record.
    for (const id of moved) {
      await kv.atomic().set(["execlog", "t", vs, id], 1)
        .delete(["execnew", "t", id]).commit();
    }
    const waiting = [newId(), newId()];
    await legacyCommit(waiting);
    const fresh = [newId(), newId()];
    await commit(s, kv, fresh);
    const all = [...moved, ...waiting, ...fresh];
    assert.deepEqual(await readAll(s), all);
    assert.deepEqual(await readAll(s, LOG_START, 1), all);
    assert.equal((await s.log.end("t")).lastId, fresh[1]);
    assert.ok(await s.log.settle("t"));
    assert.equal(await keysUnder(kv, ["execnew", "t"]), 0);
    assert.deepEqual(await readAll(s), all);
    assert.deepEqual(await s.sweep("t", { keep: 0, max: 100 }), {
      deleted: 6,
      done: true,
    });
    assert.equal(await keysUnder(kv, ["execlog", "t"]), 0);
    assert.equal(await keysUnder(kv, ["exec", "t"]), 0);
  });
});
