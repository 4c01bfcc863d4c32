/**
 * `kv.list()` on PostgreSQL: a selector turned into a byte range of
 * encoded keys (as Deno KV turns it), read in batches in key order, with
 * Deno KV's cursors (see _key_codec.ts) and errors.
 */
import {
  compareBytes,
  decodeCursor,
  encodeCursor,
  encodeKey,
  startsWith,
  withByte,
} from "./_key_codec.ts";

/** The most entries one batch may ask for (Deno KV's limit). */
export const MAX_BATCH = 1000;
const DEFAULT_BATCH = 500;

/** Reads up to `limit` rows of [lo, hi) in key order (reverse: from hi down). */
export type RangeReader = (
  lo: Uint8Array,
  hi: Uint8Array,
  limit: number,
  reverse: boolean,
) => Promise<Deno.KvEntry<unknown>[] & { rawKeys: Uint8Array[] }>;

interface Range {
  lo: Uint8Array;
  hi: Uint8Array;
  /** What cursors are relative to. */
  common: Uint8Array;
}

function rangeOf(selector: Deno.KvListSelector): Range {
  const s = selector as {
    prefix?: Deno.KvKey;
    start?: Deno.KvKey;
    end?: Deno.KvKey;
  };
  if (s.prefix) {
    const prefix = encodeKey(s.prefix);
    let lo = withByte(prefix, 0x00);
    let hi = withByte(prefix, 0xff);
    if (s.start) {
      const start = encodeKey(s.start);
      if (compareBytes(start, lo) < 0 || compareBytes(start, hi) >= 0) {
        throw new TypeError(
          "Start key is not in the keyspace defined by prefix",
        );
      }
      lo = start;
    }
    if (s.end) {
      const end = encodeKey(s.end);
      if (compareBytes(end, lo) < 0 || compareBytes(end, hi) > 0) {
        throw new TypeError("End key is not in the keyspace defined by prefix");
      }
      hi = end;
    }
    return { lo, hi, common: prefix };
  }
  if (s.start && s.end) {
    const lo = encodeKey(s.start);
    const hi = encodeKey(s.end);
    if (compareBytes(lo, hi) > 0) {
      throw new TypeError("Start key is greater than end key");
    }
    let n = 0;
    while (n < lo.length && n < hi.length && lo[n] === hi[n]) n++;
    return { lo, hi, common: lo.slice(0, n) };
  }
  throw new TypeError(
    "Selector must specify either 'prefix' or both 'start' and 'end' key",
  );
}

/** A list's entries, in batches; `cursor` as Deno KV's. */
export class PgListIterator<T> implements Deno.KvListIterator<T> {
  readonly #read: RangeReader;
  #lo: Uint8Array;
  #hi: Uint8Array;
  readonly #common: Uint8Array;
  readonly #reverse: boolean;
  readonly #batch: number;
  #left: number;
  #buffer: Deno.KvEntry<T>[] = [];
  #rawKeys: Uint8Array[] = [];
  #at = 0;
  #last: Uint8Array | null = null;
  #started = false;
  /** The range has no more entries than those read. */
  #ended = false;
  /** Iteration ended with the range (not with the limit): the cursor is "". */
  #exhausted = false;

  constructor(
    read: RangeReader,
    selector: Deno.KvListSelector,
    options: Deno.KvListOptions = {},
  ) {
    this.#read = read;
    const range = rangeOf(selector);
    this.#lo = range.lo;
    this.#hi = range.hi;
    this.#common = range.common;
    this.#reverse = options.reverse ?? false;
    if (
      options.limit !== undefined &&
      (!Number.isInteger(options.limit) || options.limit <= 0)
    ) {
      throw new Error(
        `Limit must be a positive integer: received ${options.limit}`,
      );
    }
    this.#left = options.limit ?? Infinity;
    const batch = options.batchSize ?? Math.min(this.#left, DEFAULT_BATCH);
    if (batch > MAX_BATCH) {
      throw new TypeError(`Too many entries (max ${MAX_BATCH})`);
    }
    this.#batch = batch;
    if (options.cursor !== undefined && options.cursor !== "") {
      const key = new Uint8Array([
        ...this.#common,
        ...decodeCursor(options.cursor),
      ]);
      if (
        !startsWith(key, this.#common) || compareBytes(key, this.#lo) < 0 ||
        compareBytes(key, this.#hi) >= 0
      ) {
        throw new TypeError("cursor out of bounds");
      }
      if (this.#reverse) this.#hi = key;
      else this.#lo = withByte(key, 0x00);
    }
  }

  get cursor(): string {
    if (!this.#started) {
      throw new Error("Cannot get cursor before first iteration");
    }
    if (this.#exhausted || this.#last === null) return "";
    return encodeCursor(this.#last.subarray(this.#common.length));
  }

  async next(): Promise<IteratorResult<Deno.KvEntry<T>, undefined>> {
    this.#started = true;
    if (this.#at === this.#buffer.length) {
      if (this.#left <= 0) return { done: true, value: undefined };
      if (this.#ended) {
        this.#exhausted = true;
        return { done: true, value: undefined };
      }
      const want = Math.min(this.#batch, this.#left);
      const rows = await this.#read(this.#lo, this.#hi, want, this.#reverse);
      if (rows.length < want) this.#ended = true;
      this.#buffer = rows as Deno.KvEntry<T>[];
      this.#rawKeys = rows.rawKeys;
      this.#at = 0;
      if (rows.length > 0) {
        const edge = rows.rawKeys[rows.length - 1];
        if (this.#reverse) this.#hi = edge;
        else this.#lo = withByte(edge, 0x00);
      }
      if (rows.length === 0) {
        this.#exhausted = true;
        return { done: true, value: undefined };
      }
    }
    this.#left--;
    this.#last = this.#rawKeys[this.#at];
    return { done: false, value: this.#buffer[this.#at++] };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Deno.KvEntry<T>> {
    return this;
  }
}
