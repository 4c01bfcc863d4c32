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
import { PinDeltas } from "../packages/version_pins.ts";
import {
  checkFitsOneWrite,
  MAX_ITEMS_PER_WRITE,
} from "./check_fits_one_write.ts";

const long = "x".repeat(64);

/**
 * Appends `data` as the listener does, with the longest names, the
 * version's pin count, an Idempotency-Key and a signature's replay record.
 */
async function queueAll(
  data: unknown[],
  codec: RecordCodec,
): Promise<boolean> {
  const kv = await Deno.openKv(":memory:");
  try {
    const queue = new DurableQueue<EventItem>(kv, keys.queues(), { codec });
    const items = data.map((d) => {
      const id = monotonicId();
      return {
        id,
        value: {
          tenant: long,
          package: long,
          version: 1_000_000,
          event: long,
          eventId: id,
          data: d,
        },
      };
    });
    const key = keys.idempotency(long, long, "k".repeat(255));
    const replay = keys.signatureSeen(long, "s".repeat(200));
    const op = queue.append(
      kv.atomic(),
      queueStorageName({ tenant: long, queue: long }),
      items,
    )
      .check({ key, versionstamp: null })
      .set(key, { accepted: items.length, ids: items.map((i) => i.id) })
      .check({ key: replay, versionstamp: null })
      .set(replay, 1);
    new PinDeltas().add(items[0].value, items.length).write(op);
    return (await op.commit()).ok;
  } finally {
    kv.close();
  }
}

/** The largest `n` for which `make(n)` passes the check, by bisection. */
function largest(
  make: (n: number) => unknown[],
  max: number,
  codec: RecordCodec,
): number {
  let lo = 0, hi = max;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      checkFitsOneWrite(
        make(mid),
        queueStorageName({ tenant: long, queue: long }),
        codec,
      );
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}

Deno.test("what passes the check is queued in one write, even with the longest names, stored as V8 values or JSON", async () => {
  const shapes: [string, (n: number) => unknown[], number, number][] = [
    ["small items", (n) => Array(n).fill({ a: 1 }), MAX_ITEMS_PER_WRITE, 400],
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
      const n = largest(make, max, codec);
      assert.ok(n >= atLeast, `${what}: ${n}`);
      assert.equal(await queueAll(make(n), codec), true, what);
      // One more does not pass (it is the largest).
      assert.throws(() =>
        checkFitsOneWrite(
          make(n + 1),
          queueStorageName({ tenant: long, queue: long }),
          codec,
        )
      );
    }
  }
});

Deno.test("short queue names take the most items, long ones fewer", () => {
  const small = Array(MAX_ITEMS_PER_WRITE).fill({ a: 1 });
  checkFitsOneWrite(small, "demo/greetings");
  assert.throws(
    () =>
      checkFitsOneWrite(small, queueStorageName({ tenant: long, queue: long })),
    /has 994 items; at most 403 can be queued in one request/,
  );
});

Deno.test("what does not fit is a 413 naming the limit", () => {
  const cases: [unknown[], RegExp][] = [
    [
      Array(MAX_ITEMS_PER_WRITE + 1).fill(1),
      /has 995 items; at most 994 can be queued in one request/,
    ],
    [
      [1, { s: "a".repeat(70_000) }],
      /^Item 1 of "data" is 700\d\d bytes stored; the limit is 64560 per item$/,
    ],
    [
      Array(20).fill({ s: "a".repeat(45_000) }),
      /^The items of "data" are \d+ bytes stored; at most 819200 can be queued in one request$/,
    ],
    // The same without shared objects (as JSON.parse makes them).
    [
      Array.from({ length: 20 }, () => ({ s: "a".repeat(45_000) })),
      /^The items of "data" are \d+ bytes stored; at most 819200 can be queued in one request$/,
    ],
    [
      JSON.parse(JSON.stringify([1, { s: "a".repeat(70_000) }])),
      /^Item 1 of "data" is 700\d\d bytes stored; the limit is 64560 per item$/,
    ],
  ];
  for (const [data, message] of cases) {
    assert.throws(
      () => checkFitsOneWrite(data, "demo/greetings"),
      (e: Error) => {
        assert.ok(e instanceof TooLargeError);
        assert.match(e.message, message);
        return true;
      },
    );
  }
});

Deno.test("attack: items that JSON writes far larger than V8 (control characters, 6 bytes each) are measured as the queue stores them", async () => {
  const data = [{ s: "\u0001".repeat(20_000) }];
  // 20 KB as V8 values: it would fit.
  checkFitsOneWrite(data, "demo/greetings", v8Records);
  // 120 KB as JSON: a 413, not a failed write after the request was accepted.
  assert.throws(
    () => checkFitsOneWrite(data, "demo/greetings", jsonRecords),
    (e: Error) => {
      assert.ok(e instanceof TooLargeError);
      assert.match(
        e.message,
        /^Item 0 of "data" is 120008 bytes stored; the limit is 64560 per item$/,
      );
      return true;
    },
  );
  await assert.rejects(() => queueAll(data, jsonRecords));
});
