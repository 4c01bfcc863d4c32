/**
 * Deno KV's limits on one atomic write, in one place. What each counts was
 * measured on Deno 2.9 against the KV itself (write_batch_test.ts checks
 * them again at every limit):
 *
 * - a key is measured as the KV encodes it (see `kvKeySize`);
 * - a value as the KV stores it: V8-serialized, a `Uint8Array` as it is, a
 *   `Deno.KvU64` as 8 bytes (see `kvValueSize`);
 * - the total counts the key of every check and every mutation, and once
 *   more the key and the value of each mutation that writes a value (set,
 *   sum); a delete counts its key once, an `expireIn` nothing;
 * - the total of keys counts only the keys of the mutations that write a
 *   value.
 *
 * A `WriteBatch` measures its writes against these (or smaller ones a
 * caller gives, as another backend may have).
 */

/** The limits of one atomic write (see the header for what each counts). */
export interface KvLimits {
  /** Mutations (set, sum, delete) of one write. */
  readonly mutations: number;
  /** Checks of one write. */
  readonly checks: number;
  /** Bytes of one key, encoded. */
  readonly keyBytes: number;
  /** Bytes of one value, stored. */
  readonly valueBytes: number;
  /** Bytes of one write: every key, and the keys and values of writes of a value once more. */
  readonly totalBytes: number;
  /** Bytes of the keys of the writes of a value, together. */
  readonly totalKeyBytes: number;
}

/** Deno KV's own limits (Deno 2.9). */
export const KV_LIMITS: KvLimits = Object.freeze({
  mutations: 1000,
  checks: 100,
  keyBytes: 2048,
  valueBytes: 65_536,
  totalBytes: 819_200,
  totalKeyBytes: 81_920,
});

/** What each limit is called in messages. */
export const LIMIT_NAMES: Readonly<Record<keyof KvLimits, string>> = {
  mutations: "mutations",
  checks: "checks",
  keyBytes: "bytes of one key",
  valueBytes: "bytes of one value",
  totalBytes: "bytes of one write",
  totalKeyBytes: "bytes of the keys of one write",
};
