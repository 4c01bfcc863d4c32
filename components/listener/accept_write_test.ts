import assert from "node:assert/strict";
import {
  DurableQueue,
  jsonRecords,
  monotonicId,
  type RecordCodec,
  TooLargeError,
  v8Records,
} from "@jobico/goico";
import { keys } from "../model/keys.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import type { EventItem } from "../model/event_item.ts";
import { acceptWrite } from "./accept_write.ts";

const long = "x".repeat(64);

/**
 * The write that accepts `data` as the listener makes it, with the longest
 * names, an Idempotency-Key and a signature's replay record (`names`
 * "short": a short tenant and queue, no records).
 */
function writeOf(
  kv: Deno.Kv,
  data: unknown[],
  codec: RecordCodec,
  names: "long" | "short" = "long",
) {
  const queue = new DurableQueue<EventItem>(kv, keys.queues(), { codec });
  const name = names === "long" ? long : "demo";
  const items = data.map((d) => {
    const id = monotonicId();
    return {
      id,
      value: {
        tenant: name,
        package: name,
        version: 1_000_000,
        event: name,
        eventId: id,
        data: d,
      },
    };
  });
  return acceptWrite({
    kv,
    queue,
    queueName: queueStorageName({ tenant: name, queue: name }),
    items,
    ...(names === "long" && {
      idempotency: {
        key: keys.idempotency(long, long, "k".repeat(255)),
        answer: { accepted: items.length, ids: items.map((i) => i.id) },
        expireIn: 60_000,
      },
      replay: { key: keys.signatureSeen(long, "s".repeat(200)), expireIn: 1 },
    }),
  });
}

async function withKv<T>(fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await Deno.openKv(":memory:");
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

/** The largest `n` for which the write of `make(n)` is made, by bisection. */
function largest(
  kv: Deno.Kv,
  make: (n: number) => unknown[],
  max: number,
  codec: RecordCodec,
): number {
  let lo = 0, hi = max;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      writeOf(kv, make(mid), codec);
      lo = mid;
    } catch (err) {
      assert.ok(err instanceof TooLargeError, String(err));
      hi = mid - 1;
    }
  }
  return lo;
}

Deno.test("the largest write made is committed, even with the longest names, stored as V8 values or JSON; one more item is a 413", async () => {
  const shapes: [string, (n: number) => unknown[], number, number][] = [
    ["small items", (n) => Array(n).fill({ a: 1 }), 2000, 400],
    ["one long string", (n) => [{ s: "a".repeat(n) }], 1 << 20, 60_000],
    ["one wide string", (n) => [{ s: "中".repeat(n) }], 1 << 20, 20_000],
    // JSON writes a control character as six bytes.
    [
      "one string of escapes",
      (n) => [{ s: "\u0001".repeat(n) }],
      1 << 20,
      10_000,
    ],
    [
      "20 long strings",
      (n) => Array(20).fill({ s: "a".repeat(n) }),
      1 << 20,
      35_000,
    ],
  ];
  for (const codec of [v8Records, jsonRecords]) {
    for (const [what, make, max, atLeast] of shapes) {
      await withKv(async (kv) => {
        const n = largest(kv, make, max, codec);
        assert.ok(n >= atLeast, `${what}: ${n}`);
        assert.equal((await writeOf(kv, make(n), codec).commit()).ok, true);
        assert.throws(
          () => writeOf(kv, make(n + 1), codec),
          TooLargeError,
        );
      });
    }
  }
});

Deno.test("items up to the KV's 1000 mutations: 996 with the queue's and the version's bookkeeping, 997 a 413", async () => {
  await withKv(async (kv) => {
    const data = (n: number) => Array(n).fill({ a: 1 });
    const part = writeOf(kv, data(996), jsonRecords, "short");
    assert.equal(part.mutations, 1000);
    assert.ok((await part.commit()).ok);
    assert.throws(
      () => writeOf(kv, data(997), jsonRecords, "short"),
      /^TooLargeError: The 997 items of "data" do not fit one write: they take more than 1000 writes \(at item \d+\); send fewer or smaller items per request$/,
    );
  });
});

Deno.test("what does not fit is a 413 naming the item or the limit", async () => {
  await withKv((kv) => {
    const cases: [unknown[], RegExp][] = [
      [
        [1, { s: "a".repeat(70_000) }],
        /^Item 1 of "data" is 70\d\d\d bytes stored; the limit is 65280 per item$/,
      ],
      [
        Array(20).fill({ s: "a".repeat(45_000) }),
        /^The 20 items of "data" do not fit one write: they take more than 819200 bytes \(at item 1\d\)/,
      ],
      // The same without shared objects (as JSON.parse makes them).
      [
        Array.from({ length: 20 }, () => ({ s: "a".repeat(45_000) })),
        /^The 20 items of "data" do not fit one write: they take more than 819200 bytes/,
      ],
      [
        JSON.parse(JSON.stringify([1, { s: "a".repeat(70_000) }])),
        /^Item 1 of "data" is 70\d\d\d bytes stored; the limit is 65280 per item$/,
      ],
    ];
    for (const codec of [v8Records, jsonRecords]) {
      for (const [data, message] of cases) {
        assert.throws(
          () => writeOf(kv, data, codec, "short"),
          (e: Error) => {
            assert.ok(e instanceof TooLargeError);
            assert.match(e.message, message);
            return true;
          },
        );
      }
    }
    return Promise.resolve();
  });
});

Deno.test("attack: items that JSON writes far larger than V8 (control characters, 6 bytes each) are measured as the queue stores them", async () => {
  await withKv(async (kv) => {
    const data = [{ s: "\u0001".repeat(20_000) }];
    // 20 KB as V8 values: it fits.
    assert.ok((await writeOf(kv, data, v8Records, "short").commit()).ok);
    // 120 KB as JSON: a 413, not a failed write after the request was accepted.
    assert.throws(
      () => writeOf(kv, data, jsonRecords, "short"),
      (e: Error) => {
        assert.ok(e instanceof TooLargeError);
        assert.match(
          e.message,
          /^Item 0 of "data" is 120\d\d\d bytes stored; the limit is 65280 per item$/,
        );
        return true;
      },
    );
  });
});
