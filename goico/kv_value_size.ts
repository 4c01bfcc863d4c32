/**
 * An upper bound of the bytes a value takes stored in Deno KV, which
 * measures values as V8's serializer writes them (64 KiB at most), found by
 * walking the value instead of serializing it: `serialize` from node:v8
 * costs about 30 µs for a small record here, this walk about 1 µs.
 *
 * The bound is exact for strings, counts 9 bytes for a number (a small
 * integer may take 2) and a few bytes too many per array and object (it
 * never counts V8's back-references to an object met twice). A string takes one byte a character when every character is at
 * most U+00FF, otherwise two bytes for EVERY character: so one emoji in a
 * 30,000-character log line doubles the line, which UTF-8 lengths miss.
 * Values other than JSON's (plus undefined and bigint) are measured with
 * the serializer itself.
 */
import { serialize } from "node:v8";

/** V8's serializer version header. */
const HEADER = 2;
const WIDE = /[\u0100-\uffff]/;

export function kvValueSize(value: unknown): number {
  return HEADER + size(value);
}

function varint(n: number): number {
  return n < 0x80
    ? 1
    : n < 0x4000
    ? 2
    : n < 0x200000
    ? 3
    : n < 0x10000000
    ? 4
    : 5;
}

function stringSize(s: string): number {
  if (!WIDE.test(s)) return 1 + varint(s.length) + s.length;
  // A tag, maybe a padding byte, the byte length, two bytes a character.
  return 2 + varint(2 * s.length) + 2 * s.length;
}

function size(v: unknown): number {
  switch (typeof v) {
    case "string":
      return stringSize(v);
    case "number":
      // A tag and a double (a small integer may take fewer: a zigzag
      // varint, but an integer computed as a double stays one).
      return 9;
    case "boolean":
    case "undefined":
      return 1;
    case "bigint":
      return 1 + varint(8) + 8 * Math.ceil((v.toString(16).length + 1) / 16);
    case "object": {
      if (v === null) return 1;
      if (Array.isArray(v)) {
        // A tag and the length, the elements, then a tag and two counts.
        let n = 1 + varint(v.length) + 1 + 1 + varint(v.length);
        for (const e of v) n += size(e);
        return n;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) {
        let n = 1;
        let count = 0;
        for (const [k, e] of Object.entries(v)) {
          // An index-like key is written as a number.
          n += Math.max(stringSize(k), 6) + size(e);
          count++;
        }
        return n + 1 + varint(count);
      }
      return serialize(v).length - HEADER;
    }
    default:
      return serialize(v).length - HEADER;
  }
}
