/**
 * The listener queues all the items of a request in one atomic write, and
 * Deno KV bounds one: 1000 mutations, 64 KiB per value, 80 KiB of keys and
 * 800 KiB of keys and values in all.
 * Beyond them `commit()` throws, which would be a 500 after the request was
 * validated; so the items are measured first, as the queue stores them (its
 * record codec: JSON bytes on the platform, see goico/record_codec.ts), and
 * a request that cannot fit is a 413 naming the limit.
 */
import {
  MAX_ITEM_BYTES,
  type RecordCodec,
  TooLargeError,
  v8Records,
} from "@jobico/goico";

/** Mutations of one atomic write. */
const KV_MAX_MUTATIONS = 1000;
/** Bytes of all the keys of one atomic write. */
const KV_MAX_KEYS = 81920;
/** Bytes of all the keys and values of one atomic write. */
const KV_MAX_TOTAL = 819200;
/**
 * Writes besides the items: the queue's counter, its active mark, its change
 * signal, the pin count of the version the items were accepted under, an
 * Idempotency-Key, a signature's replay record.
 */
const BOOKKEEPING = 6;
/** Bytes of a bookkeeping write's key and value, at most. */
const BOOKKEEPING_BYTES = 1024;
/** Bytes of the bookkeeping writes' keys together, at most (the longest are the Idempotency-Key's and the replay record's). */
const BOOKKEEPING_KEY_BYTES = 4096;
/** What a stored item adds to its data (event and queue fields, names of up to 64 characters, a traceparent). */
const WRAPPER_BYTES = 720;
/** What an item's key adds to its queue's name: `["queue", "ready", queue, id]`, encoded. */
const KEY_BYTES = 64;

/** Items one request can queue, at most (fewer on queues with long names). */
export const MAX_ITEMS_PER_WRITE = KV_MAX_MUTATIONS - BOOKKEEPING;

/** What a write of the items takes, at most: for grouping writes (see GroupCommit). */
export interface WriteSize {
  /** Bytes of keys and values. */
  bytes: number;
  /** Bytes of keys. */
  keyBytes: number;
}

/**
 * Throws a 413 when the items of `data` cannot be queued on `queue` in one
 * write, stored with `codec` (default `v8Records`); otherwise returns what
 * that write takes, at most. `data` holds values as `JSON.parse` makes them
 * (no cycles).
 */
export function checkFitsOneWrite(
  data: readonly unknown[],
  queue: string,
  codec: RecordCodec = v8Records,
): WriteSize {
  const keyBytes = KEY_BYTES + new TextEncoder().encode(queue).length;
  const most = Math.min(
    MAX_ITEMS_PER_WRITE,
    Math.floor((KV_MAX_KEYS - BOOKKEEPING_KEY_BYTES) / keyBytes),
  );
  if (data.length > most) {
    throw new TooLargeError(
      `The "data" list has ${data.length} items; at most ${most} can be queued in one request`,
    );
  }
  // An item's record is its data and the wrapper, and it may grow by 256
  // bytes as it moves through the queue (MAX_ITEM_BYTES).
  const maxItem = MAX_ITEM_BYTES - WRAPPER_BYTES;
  const fixed = BOOKKEEPING * BOOKKEEPING_BYTES;
  const perItem = WRAPPER_BYTES + keyBytes;
  const size = {
    keyBytes: BOOKKEEPING_KEY_BYTES + data.length * keyBytes,
  };
  // One measure of the whole list first (about 1 µs for a small request;
  // the V8 serializer, which the default codec measures with a walk, costs
  // 10-20 µs a call): the list's measure bounds each item's and the sum of
  // the items'. Only lists too large to decide so are measured item by item.
  const list = codec.size(data);
  const bound = fixed + list + data.length * perItem;
  if (list <= maxItem && bound <= KV_MAX_TOTAL) {
    return { ...size, bytes: bound };
  }
  let total = fixed;
  data.forEach((item, i) => {
    const bytes = codec.exactSize(item);
    if (bytes > maxItem) {
      throw new TooLargeError(
        `Item ${i} of "data" is ${bytes} bytes stored; the limit is ${maxItem} per item`,
      );
    }
    total += bytes + perItem;
  });
  if (total > KV_MAX_TOTAL) {
    throw new TooLargeError(
      `The items of "data" are ${total} bytes stored; at most ${KV_MAX_TOTAL} can be queued in one request`,
    );
  }
  return { ...size, bytes: total };
}
