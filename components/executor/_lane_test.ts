import assert from "node:assert/strict";
import {
  DurableQueue,
  monotonicId,
  type QueuedItem,
  silentLogger,
  WriteBatch,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import { Lane, type LaneOptions, type LaneOutcome } from "./_lane.ts";

type Item = QueuedItem<EventItem>;
const Q = "t/q";

function events(n: number, data: unknown = {}) {
  return Array.from({ length: n }, () => {
    const eventId = monotonicId();
    const value: EventItem = {
      tenant: "t",
      package: "p",
      version: 1,
      event: "e",
      eventId,
      data,
    };
    return { id: eventId, value };
  });
}

async function append(
  kv: Deno.Kv,
  queue: DurableQueue<EventItem>,
  list: { id: string; value: EventItem }[],
): Promise<void> {
  for (let i = 0; i < list.length; i += 20) {
    const op = queue.append(new WriteBatch(kv), Q, list.slice(i, i + 20));
    assert.ok((await op.commit()).ok);
  }
}

/** A KV whose atomic operations are counted. */
function counting(kv: Deno.Kv): { kv: Deno.Kv; commits: () => number } {
  let n = 0;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          n++;
          return target.atomic();
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { kv: proxy, commits: () => n };
}

/** A lane whose outcomes record `["done", eventId]` -> the attempt, in order. */
function lane(
  kv: Deno.Kv,
  queue: DurableQueue<EventItem>,
  signal: AbortSignal,
  more: Partial<LaneOptions<LaneOutcome>> = {},
): { lane: Lane<LaneOutcome>; ran: string[] } {
  const ran: string[] = [];
  const part = (d: LaneOutcome) =>
    queue.ack(
      new WriteBatch(kv).set(["done", d.item.value.eventId], d.item.attempt)
        .sum(["recorded"], 1n),
      d.item,
    );
  return {
    ran,
    lane: new Lane<LaneOutcome>({
      name: Q,
      kv,
      queue,
      logger: silentLogger,
      signal,
      maxBatch: 100,
      lingerMs: 50,
      execute: (items: Item[], emit) => {
        for (const item of items) {
          ran.push(item.value.eventId);
          emit(item, Promise.resolve({ item }));
        }
        return Promise.resolve(items.length);
      },
      writer: {
        part,
        commit: async (ds) => {
          for (const d of ds) assert.ok((await part(d).commit()).ok);
        },
        recorded: () => {},
        storeFailed: () => false,
      },
      ...more,
    }),
  };
}

async function doneIds(kv: Deno.Kv): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: ["done"] })) {
    out.push(e.key[1] as string);
  }
  return out;
}

Deno.test("a lane drains its queue in order, once each, recording and leasing in the same commits", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const queue = new DurableQueue<EventItem>(raw);
    const list = events(2000);
    await append(raw, queue, list);
    const { kv, commits } = counting(raw);
    const { lane: l, ran } = lane(kv, queue, new AbortController().signal);
    await l.run();
    const ids = list.map((e) => e.id);
    assert.deepEqual(ran, ids);
    assert.deepEqual(await doneIds(raw), ids);
    const stats = await queue.stats(Q);
    assert.equal(stats.depth + stats.inFlight, 0);
    assert.equal(stats.processed, 2000);
    // Batches of 100 (the first of 16): about one commit per batch.
    assert.ok(commits() <= 2000 / 100 + 6, `${commits()} commits`);
    // The lane retired: the queue is no longer active.
    assert.deepEqual(await queue.activeQueues(), []);
  } finally {
    raw.close();
  }
});

Deno.test("a lane commits in queue order while the next batch runs", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const queue = new DurableQueue<EventItem>(kv);
    const list = events(300);
    await append(kv, queue, list);
    // Outcomes resolve out of order: their commits must not.
    const { lane: l } = lane(kv, queue, new AbortController().signal, {
      execute: async (items, emit) => {
        for (const [i, item] of items.entries()) {
          emit(
            item,
            new Promise((r) =>
              setTimeout(
                () => r({ item }),
                i % 2 ? 0 : 5,
              )
            ),
          );
        }
        await new Promise((r) => setTimeout(r, 1));
        return items.length;
      },
    });
    const seen: string[] = [];
    const watcher = setInterval(async () => {
      const ids = await doneIds(kv);
      // What is recorded is always a prefix of the queue.
      assert.deepEqual(ids, list.slice(0, ids.length).map((e) => e.id));
      seen.push(...ids.slice(seen.length));
    }, 2);
    await l.run();
    clearInterval(watcher);
    assert.deepEqual(await doneIds(kv), list.map((e) => e.id));
  } finally {
    kv.close();
  }
});

Deno.test("a lane that stops hands back at once what it leased and did not run", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const queue = new DurableQueue<EventItem>(kv);
    const list = events(200);
    await append(kv, queue, list);
    const stop = new AbortController();
    let batches = 0;
    const { lane: l, ran } = lane(kv, queue, stop.signal, {
      execute: async (items, emit) => {
        // The first batch runs slowly; the lane leases ahead meanwhile.
        if (batches++ === 0) await new Promise((r) => setTimeout(r, 100));
        for (const item of items) {
          ran.push(item.value.eventId);
          emit(item, Promise.resolve({ item }));
        }
        return items.length;
      },
    });
    const running = l.run();
    setTimeout(() => stop.abort(), 50);
    await running;
    const done = await doneIds(kv);
    assert.deepEqual(done, ran);
    assert.ok(done.length > 0 && done.length < 200, `${done.length} ran`);
    const stats = await queue.stats(Q);
    assert.equal(stats.inFlight, 0);
    assert.equal(stats.depth, 200 - done.length);
    // Back at the head, in order, as first deliveries.
    const rest = (await queue.head(Q, 200)).map((e) => e.value);
    assert.deepEqual(
      rest.map((i) => i.id),
      list.slice(done.length).map((e) => e.id),
    );
    assert.ok(rest.every((i) => i.attempt === 1));
  } finally {
    kv.close();
  }
});

Deno.test("a lane keeps its leases while a slow batch runs", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const queue = new DurableQueue<EventItem>(kv, ["queue"], { leaseMs: 300 });
    const list = events(40);
    await append(kv, queue, list);
    const recovering = setInterval(() => queue.recoverExpired(), 20);
    const { lane: l } = lane(kv, queue, new AbortController().signal, {
      execute: async (items, emit) => {
        for (const item of items) {
          await new Promise((r) => setTimeout(r, 15));
          emit(item, Promise.resolve({ item }));
        }
        return items.length;
      },
    });
    await l.run();
    clearInterval(recovering);
    // Every event ran once, on its first delivery.
    const attempts: unknown[] = [];
    for await (const e of kv.list({ prefix: ["done"] })) attempts.push(e.value);
    assert.deepEqual(attempts, list.map(() => 1));
  } finally {
    kv.close();
  }
});

Deno.test("a lane leases large items a few at a time, within one atomic's bytes", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const queue = new DurableQueue<EventItem>(kv);
    // 60 items of 40 KB: 2.4 MB, three times what one atomic may write.
    const list = events(60, { text: "x".repeat(40_000) });
    for (const e of list) await append(kv, queue, [e]);
    const { lane: l } = lane(kv, queue, new AbortController().signal);
    await l.run();
    assert.deepEqual(await doneIds(kv), list.map((e) => e.id));
  } finally {
    kv.close();
  }
});

Deno.test("a lane packs large outcomes by their measure: several commits, each within one atomic, all in order", async () => {
  const raw = await Deno.openKv(":memory:");
  try {
    const queue = new DurableQueue<EventItem>(raw);
    const list = events(40);
    await append(raw, queue, list);
    const { kv, commits } = counting(raw);
    // Each outcome writes 50 KB: 40 of them are 2 MB, over 800 KiB.
    const part = (d: LaneOutcome) =>
      queue.ack(
        new WriteBatch(kv).set(
          ["done", d.item.value.eventId],
          new Uint8Array(50_000),
        ),
        d.item,
      );
    const { lane: l } = lane(kv, queue, new AbortController().signal, {
      writer: {
        part,
        commit: async (ds) => {
          for (const d of ds) assert.ok((await part(d).commit()).ok);
        },
        recorded: () => {},
        storeFailed: () => false,
      },
    });
    await l.run();
    assert.deepEqual(await doneIds(raw), list.map((e) => e.id));
    const stats = await queue.stats(Q);
    assert.equal(stats.processed, 40);
    // At most 16 outcomes of 50 KB fit one atomic: at least 3 commits.
    assert.ok(commits() >= 3, `${commits()} commits`);
  } finally {
    raw.close();
  }
});
