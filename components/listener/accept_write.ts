/**
 * The one atomic write that accepts a request's items: the items appended
 * to their queue (with the queue's counter, marker and change signal), the
 * pin count of the version they were accepted under, and the
 * Idempotency-Key and signature records that must be written with them
 * (both or neither). It is built as a `WriteBatch`, which measures each
 * write against the KV's limits as it is added: a request whose write
 * cannot fit one atomic (an item too large to store, or all of them too
 * many or too large together) is a 413 naming what did not fit, never a
 * failed commit after the request was validated.
 */
import {
  type DurableQueue,
  jsonRecords,
  KvLimitError,
  TooLargeError,
  WriteBatch,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import { PinDeltas } from "../packages/version_pins.ts";

/** What goes into the write that accepts a request. */
export interface AcceptedItems {
  /** The store the queue lives in. */
  kv: Deno.Kv;
  /** The queues. */
  queue: DurableQueue<EventItem>;
  /** The queue's storage name (see queueStorageName). */
  queueName: string;
  /** The items, with their ids, in order. */
  items: { id: string; value: EventItem }[];
  /**
   * The Idempotency-Key's record, and the answer it keeps (24 h), stored
   * as JSON bytes (idempotency_key.ts reads either form).
   */
  idempotency?: { key: Deno.KvKey; answer: unknown; expireIn: number };
  /** A signed request's replay record. */
  replay?: { key: Deno.KvKey; expireIn: number };
  /**
   * When the items run, ms since the epoch, when the request put them off
   * (`?delay=`, `?runAt=`): they wait as delayed records until then.
   */
  dueAt?: number;
  /**
   * Writes the items instead of the plain append (and their version pins):
   * a rate limit's or debounce's placement (flow/flow_plan.ts).
   */
  place?: (batch: WriteBatch) => void;
}

/**
 * The write that accepts the items (see the header), ready for a group
 * commit. The idempotency and replay records are checked absent: the write
 * is refused when another request took either meanwhile.
 *
 * @throws {TooLargeError} when the write cannot fit one atomic
 */
export function acceptWrite(a: AcceptedItems): WriteBatch {
  const part = new WriteBatch(a.kv);
  try {
    if (a.idempotency) {
      const { key, answer, expireIn } = a.idempotency;
      // As JSON bytes: V8's serializer cost a request about 3 µs here.
      part.check({ key, versionstamp: null }).set(
        key,
        jsonRecords.encode(answer),
        { expireIn },
      );
    }
    if (a.replay) {
      const { key, expireIn } = a.replay;
      part.check({ key, versionstamp: null }).set(key, 1, { expireIn });
    }
    if (a.place) a.place(part);
    else {
      // The version the items were accepted under stays until they are done.
      new PinDeltas().add(a.items[0].value, a.items.length).write(part);
      if (a.dueAt === undefined) a.queue.append(part, a.queueName, a.items);
      else a.queue.appendDelayed(part, a.queueName, a.items, a.dueAt);
    }
  } catch (err) {
    if (err instanceof KvLimitError) throw tooLarge(err, a.items.length);
    throw err;
  }
  return part;
}

/** The 413 for a write that does not fit, naming the item or the total. */
function tooLarge(err: KvLimitError, n: number): TooLargeError {
  const { index, limit, size, max } = err;
  if (index !== undefined && limit === "valueBytes") {
    return new TooLargeError(
      `Item ${index} of "data" is ${size} bytes stored; the limit is ${max} per item`,
    );
  }
  if (index !== undefined && limit === "keyBytes") {
    return new TooLargeError(
      `Item ${index} of "data" cannot be queued: its key takes ${size} bytes; the limit is ${max}`,
    );
  }
  const what = limit === "mutations"
    ? "writes"
    : limit === "checks"
    ? "checks"
    : limit === "totalKeyBytes"
    ? "bytes of keys"
    : "bytes";
  return new TooLargeError(
    `The ${n} items of "data" do not fit one write: they take more than ${max} ${what}` +
      (index === undefined ? "" : ` (at item ${index})`) +
      "; send fewer or smaller items per request",
  );
}
