/**
 * Text to UTF-8 bytes for values that are written and let go: each call's
 * bytes are a view of a shared 64 KiB chunk, filled once from front to back
 * and never written again, instead of an array of their own.
 *
 * `TextEncoder.encode` gives every call a buffer of its own, made outside
 * V8's heap by an op: about 0.9 µs for a 300-byte record in a
 * micro-benchmark, against 0.16 µs written into a chunk with `encodeInto`
 * (bench/kv_value_bench.ts). A record is encoded each time it is written
 * (a queue item when appended, again at each lease), so this is per event.
 *
 * The views are for values handed to a store and dropped once it has them
 * (a KV value in a write): a view keeps its whole chunk alive, so one kept
 * for long would keep up to 64 KiB. Text above 8,192 characters gets an
 * array of its own, as `TextEncoder.encode` gives it.
 */

/** Bytes of one chunk. */
export const CHUNK_BYTES = 65_536;
/** Longest text (in UTF-16 units) that goes into a chunk. */
export const MAX_CHUNKED_CHARS = 8_192;

const encoder = new TextEncoder();

let chunk = new Uint8Array(0);
let used = 0;

/**
 * `text` as UTF-8 (lone surrogates as U+FFFD, as `TextEncoder` writes
 * them). The bytes are never written again, by this or any later call.
 */
export function encodeUtf8(text: string): Uint8Array {
  if (text.length > MAX_CHUNKED_CHARS) return encoder.encode(text);
  // A UTF-16 unit takes at most 3 bytes (a pair of them 4).
  if (chunk.length - used < 3 * text.length) {
    chunk = new Uint8Array(CHUNK_BYTES);
    used = 0;
  }
  const start = used;
  const { written } = encoder.encodeInto(
    text,
    start === 0 ? chunk : chunk.subarray(start),
  );
  used = start + written;
  return chunk.subarray(start, used);
}

/**
 * The bytes of `head` followed by `text` as UTF-8, as `encodeUtf8` gives
 * them: a view of a shared chunk when they fit one (`head` at most
 * MAX_CHUNKED_CHARS bytes, `text` at most MAX_CHUNKED_CHARS units), else
 * an array of their own. `head` is copied, not kept.
 */
export function concatUtf8(head: Uint8Array, text: string): Uint8Array {
  const most = head.length + 3 * text.length;
  if (head.length > MAX_CHUNKED_CHARS || text.length > MAX_CHUNKED_CHARS) {
    const out = new Uint8Array(most);
    out.set(head);
    const { written } = encoder.encodeInto(text, out.subarray(head.length));
    return out.subarray(0, head.length + written);
  }
  if (chunk.length - used < most) {
    chunk = new Uint8Array(CHUNK_BYTES);
    used = 0;
  }
  const start = used;
  chunk.set(head, start);
  const { written } = encoder.encodeInto(
    text,
    chunk.subarray(start + head.length),
  );
  used = start + head.length + written;
  return chunk.subarray(start, used);
}
