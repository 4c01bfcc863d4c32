/**
 * Point reads of many concurrent callers made together: the keys asked for
 * while a read is under way go in the next `kv.getMany` (at most 10 keys,
 * Deno KV's limit for one), so that one read operation, one transaction
 * on the store, answers many callers. It is the read side of
 * `GroupCommit`: the listener reads one key per request that carries an
 * Idempotency-Key or a signature (was it seen before?), and read one at a
 * time those cost a single-item request about 9 µs of main thread and 15
 * µs of the KV's SQLite thread each, against about 3 and 8 a key in a read
 * of ten (BENCHMARKS.md, "Idempotency-Keys and signatures": the effect on
 * ingest, `bench/ingest_compare.ts --idempotency`).
 *
 * A lone read goes to the store at once; while one is under way, the keys
 * asked meanwhile wait for it, and a second read starts beside it only
 * once `overlapKeys` keys wait, up to `maxInFlight` at once. That suits
 * Deno KV, whose reads and commits all go through one SQLite thread. A
 * store with a pool of connections (PgKv) runs reads side by side, and
 * there gathering keys behind a read only made requests wait
 * (Idempotency-Key requests: 2,750-3,422 req/s with one `get` each,
 * 1,703-2,108 gathered, 2,943-3,563 with each read started at once, up to
 * the pool's size): on a store that says how many reads it runs at once
 * (`readsAtOnce`), each read starts at once, up to that many.
 *
 * Each caller gets what `kv.get` would have answered: the entry as one
 * strongly consistent read saw it. A read that fails is tried again key by
 * key, so a key the store refuses (too large, say) fails only its own
 * caller; when the store itself fails (a full disk, a lost connection),
 * every caller of that read gets the error.
 */
import { storeFailure } from "./store_error.ts";
import { withDefaults } from "./with_defaults.ts";

/**
 * A store that runs several reads at once (PgKv: one a connection of its
 * pool) says how many.
 */
interface ParallelReads {
  readonly readsAtOnce?: number;
}

/**
 * How many keys one read takes and how many reads go at once. The defaults
 * suit Deno KV, whose reads and commits all go through one SQLite thread:
 * keys gather behind a read under way. On a store that says it runs
 * `readsAtOnce` reads at once (PgKv), the defaults are that many reads
 * under way, each started as soon as a key is asked.
 *
 * @example
 * ```ts
 * const reads = new ReadBatcher(kv, { maxInFlight: 2 });
 * const seen = await reads.get<string>(["seen", id]);
 * ```
 */
export interface ReadBatcherOptions {
  /**
   * Keys in one read, at most.
   *
   * @default {10} (Deno KV's limit for `getMany`)
   */
  maxKeys?: number;
  /**
   * Reads under way at once.
   *
   * @default {4} (the store's `readsAtOnce` when it has one)
   */
  maxInFlight?: number;
  /**
   * Keys that must wait before a read starts while another is under way
   * (fewer wait for it to end).
   *
   * @default {10} (1 on a store with `readsAtOnce`)
   */
  overlapKeys?: number;
}

interface Waiting {
  key: Deno.KvKey;
  resolve: (entry: Deno.KvEntryMaybe<unknown>) => void;
  reject: (err: unknown) => void;
}

export class ReadBatcher {
  readonly #pending: Waiting[] = [];
  #scheduled = false;
  #inFlight = 0;
  readonly #o: Required<ReadBatcherOptions>;
  /** Reads made and keys they carried (for tests and benchmarks). */
  readonly stats = { reads: 0, keys: 0 };

  constructor(
    private readonly kv: Deno.Kv,
    options: ReadBatcherOptions = {},
  ) {
    const atOnce = (kv as ParallelReads).readsAtOnce;
    this.#o = withDefaults(
      atOnce
        ? { maxKeys: 10, maxInFlight: atOnce, overlapKeys: 1 }
        : { maxKeys: 10, maxInFlight: 4, overlapKeys: 10 },
      options,
    );
    for (const [name, v] of Object.entries(this.#o)) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(
          `Invalid ReadBatcher option ${name} ${v}: use a whole number of at least 1`,
        );
      }
    }
  }

  /** Reads one key with whatever else is asked for; resolves as `kv.get` would. */
  get<T = unknown>(key: Deno.KvKey): Promise<Deno.KvEntryMaybe<T>> {
    return new Promise((resolve, reject) => {
      this.#pending.push({
        key,
        resolve: resolve as (e: Deno.KvEntryMaybe<unknown>) => void,
        reject,
      });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // Keys asked for during this turn of the event loop share the read.
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#start();
      });
    });
  }

  /** Starts reads of what waits: one, and more beside it once `overlapKeys` wait. */
  #start(): void {
    const { maxKeys, maxInFlight, overlapKeys } = this.#o;
    while (
      this.#pending.length > 0 && this.#inFlight < maxInFlight &&
      (this.#inFlight === 0 || this.#pending.length >= overlapKeys)
    ) {
      this.#inFlight++;
      this.#read(this.#pending.splice(0, maxKeys)).finally(() => {
        this.#inFlight--;
        this.#start();
      });
    }
  }

  async #read(group: Waiting[]): Promise<void> {
    this.stats.reads++;
    this.stats.keys += group.length;
    let entries: Deno.KvEntryMaybe<unknown>[];
    try {
      entries = group.length === 1
        ? [await this.kv.get(group[0].key)]
        : await this.kv.getMany(group.map((w) => w.key));
    } catch (err) {
      if (group.length === 1 || storeFailure(err)) {
        for (const w of group) w.reject(err);
        return;
      }
      // One key may be what the store refused: each on its own.
      for (const w of group) await this.#read([w]);
      return;
    }
    for (const [i, w] of group.entries()) w.resolve(entries[i]);
  }
}
