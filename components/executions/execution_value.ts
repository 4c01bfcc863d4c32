/**
 * How an execution record is kept in its KV value: as UTF-8 JSON bytes, or,
 * when its JSON would not fit, as the record itself (which the KV writes
 * with V8's serializer; `ExecutionStore.fit` chooses).
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

/**
 * The JSON bytes that keep `record`, or null when they would pass
 * `maxBytes` (the record is then kept as it is). A record's values are
 * JSON's (strings, numbers, null, arrays, plain objects; an absent input is
 * left out), so its JSON reads back as the same record. The bytes are a
 * view of a shared chunk (`encodeUtf8`, never written again): held until
 * their commit, they keep that chunk (64 KiB) alive, no longer.
 */
export function executionJson(
  record: Execution,
  maxBytes: number,
): Uint8Array | null {
  const text = JSON.stringify(record);
  // Each character takes at least one byte: a text this long cannot fit.
  if (text.length > maxBytes) return null;
  const bytes = encodeUtf8(text);
  return bytes.length <= maxBytes ? bytes : null;
}

/** The record a KV value keeps (either form). */
export function executionOf(stored: unknown): Execution {
  return (stored instanceof Uint8Array
    ? JSON.parse(decoder.decode(stored))
    : stored) as Execution;
}
