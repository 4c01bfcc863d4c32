/**
 * How a value is kept in the PostgreSQL store's `kv` table: what Deno KV
 * keeps, read back the same.
 *
 *   kind 1 (V8)    V8's serializer (node:v8), for any value it can clone
 *   kind 2 (BYTES) a Uint8Array, as it is
 *   kind 3 (U64)   a Deno.KvU64, in the `n` column (numeric), so that
 *                  sum/min/max run in SQL
 *   kind 4 (JSON)  UTF-8 JSON, for values that JSON gives back unchanged
 *                  (strings, finite numbers but -0, booleans, null, arrays
 *                  and plain objects without undefined, each met once):
 *                  node:v8's serializer costs about 30 µs for a small
 *                  record here, JSON about 1 µs
 *
 * Sizes are measured as Deno KV measures them (V8's serialized bytes, a
 * Uint8Array's length, 8 for a KvU64), so the same values are refused.
 */
import { deserialize, serialize } from "node:v8";
import { kvValueSize } from "../kv_value_size.ts";

export const V8 = 1;
export const BYTES = 2;
export const U64 = 3;
export const JSON_KIND = 4;

/** Deno KV's largest value, in bytes. */
export const MAX_VALUE_BYTES = 65_536;

export interface EncodedValue {
  kind: number;
  /** The bytes (null for a KvU64). */
  bytes: Uint8Array | null;
  /** The KvU64's value. */
  u64: bigint | null;
  /** At least the bytes Deno KV counts for it (exact for all but JSON). */
  size: number;
  /** The exact size, computed on demand (JSON's `size` is a bound). */
  exactSize(): number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Whether JSON gives `v` back as V8's serializer would. */
function jsonSafe(v: unknown, seen: Set<object>, depth: number): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (v === null) return true;
      if (depth > 64 || seen.has(v)) return false;
      seen.add(v);
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (!(i in v) || !jsonSafe(v[i], seen, depth + 1)) return false;
        }
        return Object.keys(v).length === v.length;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in v) {
        if (!jsonSafe((v as Record<string, unknown>)[k], seen, depth + 1)) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

/** The stored form of a value; throws Deno KV's errors for what it refuses. */
export function encodeValue(value: unknown): EncodedValue {
  if (value instanceof Deno.KvU64) {
    return {
      kind: U64,
      bytes: null,
      u64: value.value,
      size: 8,
      exactSize: () => 8,
    };
  }
  if (value instanceof Uint8Array) {
    const bytes = value.slice();
    return checked({
      kind: BYTES,
      bytes,
      u64: null,
      size: bytes.length,
      exactSize: () => bytes.length,
    });
  }
  if (jsonSafe(value, new Set(), 0)) {
    const bound = kvValueSize(value);
    let exact: number | undefined;
    const encoded: EncodedValue = {
      kind: JSON_KIND,
      bytes: encoder.encode(JSON.stringify(value)),
      u64: null,
      size: bound,
      exactSize: () => (exact ??= serialize(value).length),
    };
    if (bound > MAX_VALUE_BYTES) encoded.size = encoded.exactSize();
    return checked(encoded);
  }
  let bytes: Uint8Array;
  try {
    bytes = serialize(value);
  } catch (err) {
    throw new TypeError(`${String(value)} could not be cloned.`, {
      cause: err,
    });
  }
  return checked({
    kind: V8,
    bytes,
    u64: null,
    size: bytes.length,
    exactSize: () => bytes.length,
  });
}

function checked(v: EncodedValue): EncodedValue {
  if (v.size > MAX_VALUE_BYTES) {
    throw new TypeError(`Value too large (max ${MAX_VALUE_BYTES} bytes)`);
  }
  return v;
}

/** The value a stored row holds. */
export function decodeValue(
  kind: number,
  bytes: Uint8Array | null,
  u64: string | bigint | null,
): unknown {
  switch (kind) {
    case JSON_KIND:
      return JSON.parse(decoder.decode(bytes!));
    case BYTES:
      return new Uint8Array(bytes!);
    case U64:
      return new Deno.KvU64(BigInt(u64!));
    case V8:
      return deserialize(bytes!);
    default:
      throw new TypeError(`Unknown value kind ${kind} in the store`);
  }
}
