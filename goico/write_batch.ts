/**
 * One atomic write of Deno KV as a value: checks and mutations added one by
 * one, each measured as it is added against the KV's limits (`KV_LIMITS`:
 * mutations, checks, the bytes of each key and value, of all keys and of
 * the whole write; see kv_limits.ts for what each counts), and committed
 * as one `kv.atomic()`.
 *
 * - A write the batch cannot take throws a `KvLimitError` naming the limit
 *   (a key or value over its own limit can never be written; a write that
 *   would take the batch over a total goes in another batch), so nothing
 *   is found too large only when the store refuses the commit.
 * - Batches combine: writers fill a batch each (a request's items, an
 *   execution's outcome) and a packer asks `fits` before it `add`s one to
 *   the batch it commits, so group commits and lanes split by measure.
 * - Sums of one key merge into one mutation (sums commute), and
 *   `setShared` keys keep the last value: the bookkeeping many parts share
 *   (a queue's counter, its change signal, its active marker) is written
 *   once per commit; `collect` gathers the parts' items into one list
 *   written once (one key a commit for what each part would have keyed
 *   on its own). A key summed in a batch is not to be set or deleted in
 *   the same batch (the sums are written after the other mutations).
 * - The same check (key and versionstamp) added twice is made once.
 *
 * Values are measured as the KV stores them: a `Uint8Array` as its bytes
 * (what `jsonRecords` stores), a `Deno.KvU64` as 8 bytes, anything else as
 * V8 serializes it, bounded by `kvValueSize` (exact for strings, a little
 * above for objects) and serialized to decide a value near the limit.
 */
import { serialize } from "node:v8";
import { kvKeySize } from "./kv_key_size.ts";
import { KV_LIMITS, type KvLimits, LIMIT_NAMES } from "./kv_limits.ts";
import { kvValueSize } from "./kv_value_size.ts";

/** A write that one atomic cannot take, with the limit it passes. */
export class KvLimitError extends TypeError {
  override name = "KvLimitError";
  constructor(
    /** The limit passed (see `KvLimits`). */
    readonly limit: keyof KvLimits,
    /** What the write would have taken (bytes, mutations or checks). */
    readonly size: number,
    /** The limit's value. */
    readonly max: number,
    message: string,
    /** Of a list of things written together (a queue's append), the one refused. */
    readonly index?: number,
  ) {
    super(message);
  }

  /** The same error, naming the thing of a list it was met at. */
  at(index: number, what: string): KvLimitError {
    return new KvLimitError(
      this.limit,
      this.size,
      this.max,
      `${what} ${index}: ${this.message}`,
      index,
    );
  }
}

type Result = Deno.KvCommitResult | Deno.KvCommitError;

const DELETE = Symbol("delete");
const U64 = 1n << 64n;

/** The items `collect` gathered under one prefix, and the largest key they may take. */
interface Collected {
  prefix: Deno.KvKey;
  items: string[];
  /** The bound of the list's stored size (see `kvValueSize`). */
  valueBytes: number;
}

/** A list's stored size beyond its items' (V8's tags and counts). */
const LIST_OVERHEAD = 16;

interface Write {
  key: Deno.KvKey;
  /** The value, or DELETE. */
  value: unknown;
  expireIn?: number;
}

/** A check, a sum or a shared set, with what it takes. */
interface Measured<T> {
  entry: T;
  id: string;
  bytes: number;
  keyBytes: number;
}

export class WriteBatch {
  /** The limits it measures its writes against. */
  readonly limits: KvLimits;
  readonly #kv: Deno.Kv;
  #mutations = 0;
  #checks = 0;
  #bytes = 0;
  #keyBytes = 0;
  /** The largest key and value it holds (another batch may have lower limits). */
  #largestKey = 0;
  #largestValue = 0;
  readonly #checkList: Measured<Deno.AtomicCheck>[] = [];
  /** The versionstamps checked, by key. */
  #checkIds: Map<string, (string | null)[]> | null = null;
  readonly #writes: Write[] = [];
  /** What `#writes` take of the totals. */
  #writeBytes = 0;
  #writeKeyBytes = 0;
  #sums: Map<string, Measured<{ key: Deno.KvKey; n: bigint }>> | null = null;
  #shared: Map<string, Measured<{ key: Deno.KvKey; value: unknown }>> | null =
    null;
  #lists: Map<string, Measured<Collected>> | null = null;

  /**
   * An empty batch that commits to `kv`; `limits` smaller than the KV's own
   * for a store that takes less.
   */
  constructor(kv: Deno.Kv, limits: KvLimits = KV_LIMITS) {
    this.#kv = kv;
    this.limits = limits;
  }

  /** An empty batch for the same store and limits (a part to measure before adding it). */
  part(): WriteBatch {
    return new WriteBatch(this.#kv, this.limits);
  }

  /** Mutations it holds. */
  get mutations(): number {
    return this.#mutations;
  }

  /** Checks it holds. */
  get checks(): number {
    return this.#checks;
  }

  /** Bytes it takes of a write's total (see `KvLimits.totalBytes`). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes of the keys of its writes of a value. */
  get keyBytes(): number {
    return this.#keyBytes;
  }

  /** Whether it holds nothing to commit. */
  get empty(): boolean {
    return this.#mutations === 0 && this.#checks === 0;
  }

  /** Adds checks: the write commits only if each key still has its versionstamp. */
  check(...checks: Deno.AtomicCheck[]): this {
    for (const check of checks) this.#check(check, keyId(check.key));
    return this;
  }

  /** One check, its key's id known (and its size, when `add` merges a part's). */
  #check(check: Deno.AtomicCheck, id: string, bytes?: number): void {
    const ids = this.#checkIds ??= new Map();
    const stamps = ids.get(id);
    if (stamps?.includes(check.versionstamp)) return;
    const keyBytes = bytes ?? this.#keySize(check.key);
    this.#admit(0, 1, keyBytes, 0);
    if (stamps) stamps.push(check.versionstamp);
    else ids.set(id, [check.versionstamp]);
    this.#checkList.push({ entry: check, id, bytes: keyBytes, keyBytes: 0 });
  }

  /**
   * Adds a set of `key` to `value`. `maxBytes` refuses a value above it as
   * one over the KV's own limit (a store that keeps room for the value to
   * grow). `bytes` is the value's `kvValueSize` when the caller has it
   * already (the value is not walked again; near the limit it is still
   * serialized to decide).
   */
  set(
    key: Deno.KvKey,
    value: unknown,
    options?: { expireIn?: number; maxBytes?: number; bytes?: number },
  ): this {
    const k = this.#keySize(key);
    const v = this.#valueSize(key, value, options?.maxBytes, options?.bytes);
    this.#admit(1, 0, 2 * k + v, k);
    this.#writeBytes += 2 * k + v;
    this.#writeKeyBytes += k;
    this.#writes.push(
      options?.expireIn === undefined
        ? { key, value }
        : { key, value, expireIn: options.expireIn },
    );
    return this;
  }

  /** Adds a delete of `key`. */
  delete(key: Deno.KvKey): this {
    const k = this.#keySize(key);
    this.#admit(1, 0, k, 0);
    this.#writeBytes += k;
    this.#writes.push({ key, value: DELETE });
    return this;
  }

  /**
   * Adds `n` to the KvU64 at `key` (modulo 2^64, as KV sums wrap): one
   * mutation per key, however many sums of it the batch is given.
   */
  sum(key: Deno.KvKey, n: bigint): this {
    const id = keyId(key);
    const sums = this.#sums ??= new Map();
    const had = sums.get(id);
    if (had) {
      // BigInt arithmetic allocates: wrap only when the sum leaves
      // [0, 2^64) (a stored sum is within it; `n` may be anything).
      const sum = had.entry.n + n;
      had.entry.n = sum >= U64 || sum < 0n ? BigInt.asUintN(64, sum) : sum;
      return this;
    }
    const k = this.#keySize(key);
    this.#admit(1, 0, 2 * k + 8, k);
    sums.set(id, {
      entry: { key, n: n >= 0n && n < U64 ? n : BigInt.asUintN(64, n) },
      id,
      bytes: 2 * k + 8,
      keyBytes: k,
    });
    return this;
  }

  /**
   * Adds a set that several parts of one write may make (a marker every
   * append sets): the batch sets the key once, to the last value given.
   */
  setShared(key: Deno.KvKey, value: unknown): this {
    const id = keyId(key);
    const shared = this.#shared ??= new Map();
    const had = shared.get(id);
    const k = had?.keyBytes ?? this.#keySize(key);
    const bytes = 2 * k + this.#valueSize(key, value);
    if (had) {
      this.#admit(0, 0, bytes - had.bytes, 0);
      had.entry.value = value;
      had.bytes = bytes;
      return this;
    }
    this.#admit(1, 0, bytes, k);
    shared.set(id, { entry: { key, value }, id, bytes, keyBytes: k });
    return this;
  }

  /**
   * Adds `item` to a list that the batch writes once, whatever the parts it
   * was gathered from: at `[...prefix, first, n]`, the smallest item and
   * how many there are, with the items as its value. So the key is known
   * from the items alone (a reader told what a commit held finds it) and
   * it names one commit's list: two commits never gather the same items.
   * Each item is counted as it comes (a mutation for the list's first).
   *
   * @throws {KvLimitError} when the list would pass a limit (its value's bytes)
   */
  collect(prefix: Deno.KvKey, item: string): this {
    const id = keyId(prefix);
    const lists = this.#lists ??= new Map();
    const had = lists.get(id);
    const itemBytes = kvValueSize(item);
    if (had) {
      const valueBytes = had.entry.valueBytes + itemBytes;
      this.#listValue(prefix, valueBytes);
      this.#admit(0, 0, itemBytes, 0);
      had.entry.items.push(item);
      had.entry.valueBytes = valueBytes;
      had.bytes += itemBytes;
      return this;
    }
    // The key as the largest item could make it: items are ids of a size.
    const k = this.#keySize([...prefix, item, 1_000_000]);
    const valueBytes = LIST_OVERHEAD + itemBytes;
    this.#listValue(prefix, valueBytes);
    this.#admit(1, 0, 2 * k + valueBytes, k);
    lists.set(id, {
      entry: { prefix, items: [item], valueBytes },
      id,
      bytes: 2 * k + valueBytes,
      keyBytes: k,
    });
    return this;
  }

  /** Refuses a list whose value would pass the KV's limit. */
  #listValue(prefix: Deno.KvKey, valueBytes: number): void {
    if (valueBytes > this.limits.valueBytes) {
      throw new KvLimitError(
        "valueBytes",
        valueBytes,
        this.limits.valueBytes,
        `Value too large: ${valueBytes} bytes stored, at most ${this.limits.valueBytes}, in the list at ${
          describeKey(prefix)
        }`,
      );
    }
    if (valueBytes > this.#largestValue) this.#largestValue = valueBytes;
  }

  /**
   * Whether `other`'s writes fit beside this batch's, within this batch's
   * limits (counted as `other` stands alone: sums and shared sets that
   * would merge are counted too).
   */
  fits(other: WriteBatch): boolean {
    const l = this.limits;
    for (const o of other.#lists?.values() ?? []) {
      const mine = this.#lists?.get(o.id);
      if (
        mine &&
        mine.entry.valueBytes + o.entry.valueBytes - LIST_OVERHEAD >
          l.valueBytes
      ) return false;
    }
    return this.#mutations + other.#mutations <= l.mutations &&
      this.#checks + other.#checks <= l.checks &&
      this.#bytes + other.#bytes <= l.totalBytes &&
      this.#keyBytes + other.#keyBytes <= l.totalKeyBytes &&
      other.#largestKey <= l.keyBytes &&
      other.#largestValue <= l.valueBytes;
  }

  /** Whether `other` checks a key that this batch checks. */
  checksOverlap(other: WriteBatch): boolean {
    if (!this.#checkIds || !other.#checkIds) return false;
    for (const id of other.#checkIds.keys()) {
      if (this.#checkIds.has(id)) return true;
    }
    return false;
  }

  /**
   * Adds another batch's checks and writes, after this batch's.
   *
   * @throws {KvLimitError} when it does not fit (see `fits`); nothing is added then
   */
  add(other: WriteBatch): this {
    if (!this.fits(other)) {
      const l = this.limits;
      const over: [keyof KvLimits, number][] = [
        ["mutations", this.#mutations + other.#mutations],
        ["checks", this.#checks + other.#checks],
        ["totalBytes", this.#bytes + other.#bytes],
        ["totalKeyBytes", this.#keyBytes + other.#keyBytes],
        ["keyBytes", other.#largestKey],
        ["valueBytes", other.#largestValue],
      ];
      const [limit, size] = over.find(([name, size]) => size > l[name])!;
      throw tooLarge(limit, size, l[limit]);
    }
    // Within the limits as `other` stands alone: merging only takes less.
    for (const c of other.#checkList) this.#check(c.entry, c.id, c.bytes);
    this.#mutations += other.#writes.length;
    this.#bytes += other.#writeBytes;
    this.#keyBytes += other.#writeKeyBytes;
    this.#writeBytes += other.#writeBytes;
    this.#writeKeyBytes += other.#writeKeyBytes;
    for (const w of other.#writes) this.#writes.push(w);
    for (const s of other.#sums?.values() ?? []) {
      this.sum(s.entry.key, s.entry.n);
    }
    for (const s of other.#shared?.values() ?? []) {
      this.setShared(s.entry.key, s.entry.value);
    }
    for (const c of other.#lists?.values() ?? []) {
      for (const item of c.entry.items) this.collect(c.entry.prefix, item);
    }
    this.#largestKey = Math.max(this.#largestKey, other.#largestKey);
    this.#largestValue = Math.max(this.#largestValue, other.#largestValue);
    return this;
  }

  /** Commits the checks and writes as one atomic operation (each call a new one). */
  async commit(): Promise<Result> {
    const op = this.#kv.atomic();
    if (this.#checkList.length > 0) {
      op.check(...this.#checkList.map((c) => c.entry));
    }
    for (const w of this.#writes) {
      if (w.value === DELETE) op.delete(w.key);
      else if (w.expireIn === undefined) op.set(w.key, w.value);
      else op.set(w.key, w.value, { expireIn: w.expireIn });
    }
    for (const { entry } of this.#sums?.values() ?? []) {
      op.sum(entry.key, entry.n);
    }
    for (const { entry } of this.#shared?.values() ?? []) {
      op.set(entry.key, entry.value);
    }
    for (const { entry } of this.#lists?.values() ?? []) {
      op.set(collectedKey(entry.prefix, entry.items), entry.items);
    }
    return await op.commit();
  }

  /** Takes a write's share of the totals, or throws naming the limit it would pass. */
  #admit(
    mutations: number,
    checks: number,
    bytes: number,
    keyBytes: number,
  ): void {
    const l = this.limits;
    if (this.#mutations + mutations > l.mutations) {
      throw tooLarge("mutations", this.#mutations + mutations, l.mutations);
    }
    if (this.#checks + checks > l.checks) {
      throw tooLarge("checks", this.#checks + checks, l.checks);
    }
    if (this.#bytes + bytes > l.totalBytes) {
      throw tooLarge("totalBytes", this.#bytes + bytes, l.totalBytes);
    }
    if (this.#keyBytes + keyBytes > l.totalKeyBytes) {
      throw tooLarge(
        "totalKeyBytes",
        this.#keyBytes + keyBytes,
        l.totalKeyBytes,
      );
    }
    this.#mutations += mutations;
    this.#checks += checks;
    this.#bytes += bytes;
    this.#keyBytes += keyBytes;
  }

  #keySize(key: Deno.KvKey): number {
    const n = kvKeySize(key);
    if (n > this.limits.keyBytes) {
      throw new KvLimitError(
        "keyBytes",
        n,
        this.limits.keyBytes,
        `Key too large: ${n} bytes encoded, at most ${this.limits.keyBytes}: ${
          describeKey(key)
        }`,
      );
    }
    if (n > this.#largestKey) this.#largestKey = n;
    return n;
  }

  #valueSize(
    key: Deno.KvKey,
    value: unknown,
    below?: number,
    known?: number,
  ): number {
    const max = Math.min(this.limits.valueBytes, below ?? Infinity);
    let n: number;
    if (value instanceof Uint8Array) n = value.byteLength;
    else if (value instanceof Deno.KvU64) n = 8;
    else {
      n = known ?? kvValueSize(value);
      // The bound is above the exact size for objects: decide near the limit.
      if (n > max) n = serialize(value).length;
    }
    if (n > max) {
      throw new KvLimitError(
        "valueBytes",
        n,
        max,
        `Value too large: ${n} bytes stored, at most ${max}, at key ${
          describeKey(key)
        }`,
      );
    }
    if (n > this.#largestValue) this.#largestValue = n;
    return n;
  }
}

/** The key `collect` writes a list at: the prefix, the smallest item, how many. */
export function collectedKey(prefix: Deno.KvKey, items: string[]): Deno.KvKey {
  let first = items[0];
  for (const item of items) if (item < first) first = item;
  return [...prefix, first, items.length];
}

function tooLarge(
  limit: keyof KvLimits,
  size: number,
  max: number,
): KvLimitError {
  return new KvLimitError(
    limit,
    size,
    max,
    `Write too large for one atomic: ${size} ${
      LIMIT_NAMES[limit]
    }, at most ${max}`,
  );
}

/** A key for a message: its parts as JSON, cut after 200 characters. */
function describeKey(key: Deno.KvKey): string {
  const text = JSON.stringify(
    key,
    (_, v) =>
      typeof v === "bigint"
        ? `${v}n`
        : v instanceof Uint8Array
        ? `<${v.length} bytes>`
        : v,
  );
  return text.length > 200 ? text.slice(0, 200) + "...]" : text;
}

/** The ids of keys met before (callers that hand in the same key arrays again save building them). */
const ids = new WeakMap<Deno.KvKey, string>();

/**
 * A string that is equal for equal keys and different for different ones
 * (each part tagged with its type, strings and bytes with their length).
 * A key array is not to be changed once handed in.
 */
export function keyId(key: Deno.KvKey): string {
  let id = ids.get(key);
  if (id === undefined) {
    id = "";
    for (const p of key) {
      switch (typeof p) {
        case "string":
          id += `s${p.length}:${p}`;
          break;
        case "number":
          id += `n${Object.is(p, -0) ? "-0" : p};`;
          break;
        case "bigint":
          id += `i${p};`;
          break;
        case "boolean":
          id += p ? "t" : "f";
          break;
        default: {
          const bytes = p as Uint8Array;
          id += `b${bytes.length}:${bytes.join(",")};`;
        }
      }
    }
    ids.set(key, id);
  }
  return id;
}
