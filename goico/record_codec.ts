/**
 * How a store keeps its records in KV values: as they are (Deno KV encodes
 * every value with V8's serializer) or as UTF-8 JSON bytes.
 *
 * V8's serializer is slow in Deno: a small record costs about 2 µs to
 * write (`kv.atomic().set`) and 3.5 µs to read in a micro-benchmark (4-5 µs
 * to write in the listener under load), against about 1 µs each as JSON
 * bytes (bench/kv_value_bench.ts); a queue's item is written when appended
 * and again at each lease, and read at each. `jsonRecords`
 * stores records whose values are JSON's (strings, finite numbers,
 * booleans, null, arrays, plain objects) as JSON bytes, and reads records
 * of either form, so what a store wrote before it used JSON is read as
 * before.
 */
import { serialize } from "node:v8";
import { concatUtf8, encodeUtf8 } from "./encode_utf8.ts";
import { kvValueSize } from "./kv_value_size.ts";

export interface RecordCodec {
  /** The KV value that stores `record`. */
  encode(record: unknown): unknown;
  /** The record a KV value stores (either form). */
  decode(stored: unknown): unknown;
  /** The bytes `encode(record)` takes in the KV, or more (cheap). */
  size(record: unknown): number;
  /** The bytes `encode(record)` takes in the KV, exactly. */
  exactSize(record: unknown): number;
  /** Bytes one character of `s` takes at least, stored. */
  charBytes(s: string): number;
  /**
   * The KV value that stores `record` with `members` added, given
   * `stored`, the KV value `record` was decoded from (and not changed
   * since): what `encode({ ...record, ...members })` gives. For JSON bytes
   * the members are written after `stored`'s bytes, so the record is not
   * encoded again (a queue item at each lease).
   */
  extend(
    stored: unknown,
    record: object,
    members: Record<string, unknown>,
  ): unknown;
}

const WIDE = /[\u0100-\uffff]/;

/** Records as they are: the KV's V8 serializer. */
export const v8Records: RecordCodec = {
  encode: (record) => record,
  decode: (stored) => stored,
  size: kvValueSize,
  exactSize: (record) => serialize(record).length,
  // V8 writes a string two bytes a character when one is above U+00FF.
  charBytes: (s) => WIDE.test(s) ? 2 : 1,
  extend: (_stored, record, members) => ({ ...record, ...members }),
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const NON_ASCII = /[\u0080-\uffff]/;
const CLOSE_BRACE = 0x7d;

function jsonSize(record: unknown): number {
  const text = JSON.stringify(record);
  // ASCII text (the common case) is as many bytes as characters.
  return NON_ASCII.test(text) ? encoder.encode(text).length : text.length;
}

/**
 * Records as UTF-8 JSON bytes (a `Uint8Array` value, which the KV stores as
 * it is). Values JSON cannot hold are not for it: `undefined` members are
 * dropped, a non-finite number becomes null, a bigint throws. An encoded
 * record is a view of a shared chunk (`encodeUtf8`): hand it to a write
 * and let it go.
 */
export const jsonRecords: RecordCodec = {
  encode: (record) => encodeUtf8(JSON.stringify(record)),
  decode: (stored) =>
    stored instanceof Uint8Array ? JSON.parse(decoder.decode(stored)) : stored,
  size: jsonSize,
  exactSize: jsonSize,
  charBytes: () => 1,
  extend: (stored, record, members) => {
    const n = stored instanceof Uint8Array ? stored.length : 0;
    // JSON.stringify of an object with members ends in "}" and writes no
    // space: `{...,"a":1}` + `{"b":2}` is `{...,"a":1,"b":2}`, the text of
    // the spread object, as long as no member is one `record` has (it
    // would keep its place there). Anything else is encoded again.
    if (n > 2 && (stored as Uint8Array)[n - 1] === CLOSE_BRACE) {
      let fresh = true;
      for (const name in members) {
        if (Object.hasOwn(record, name)) fresh = false;
      }
      if (fresh) {
        const more = JSON.stringify(members);
        if (more.length === 2) return stored;
        return concatUtf8(
          (stored as Uint8Array).subarray(0, n - 1),
          "," + more.slice(1),
        );
      }
    }
    return encodeUtf8(JSON.stringify({ ...record, ...members }));
  },
};
