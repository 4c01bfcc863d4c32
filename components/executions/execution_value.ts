/**
 * How an execution record is kept in its KV value: as UTF-8 JSON bytes, or,
 * when its JSON would not fit, as the record itself (which the KV writes
 * with V8's serializer).
 *
 * A record is written once, inside the executor's commit, and V8's
 * serializer is what made that write slow (about 3.4 µs a record of the
 * main isolate under load, see BENCHMARKS.md); its JSON costs about a third
 * of that, and so does reading it back. Records written before are V8
 * values: `executionOf` reads both forms.
 */
import { encodeUtf8 } from "@jobico/goico";
import type { Execution } from "./execution.ts";

const decoder = new TextDecoder();

/** A record's KV value and the bytes it takes there. */
export interface ExecutionValue {
  value: unknown;
  bytes: number;
}

/**
 * The KV value that keeps `record`: its JSON bytes when they are at most
 * `maxBytes`, else the record (its stored size `v8Bytes`, as `fit`
 * measured it). A record's values are JSON's (strings, numbers, null,
 * arrays, plain objects; an absent input is left out), so its JSON reads
 * back as the same record.
 */
export function executionValue(
  record: Execution,
  v8Bytes: number,
  maxBytes: number,
): ExecutionValue {
  const text = JSON.stringify(record);
  // Each character takes at least one byte: a text this long cannot fit.
  if (text.length <= maxBytes) {
    const bytes = encodeUtf8(text);
    if (bytes.length <= maxBytes) return { value: bytes, bytes: bytes.length };
  }
  return { value: record, bytes: v8Bytes };
}

/** The record a KV value keeps (either form). */
export function executionOf(stored: unknown): Execution {
  return (stored instanceof Uint8Array
    ? JSON.parse(decoder.decode(stored))
    : stored) as Execution;
}
