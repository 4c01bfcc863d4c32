/**
 * The `Deno.Kv` API on PostgreSQL, with Deno KV's semantics, so that every
 * part of the platform runs unchanged on a database that many machines
 * share:
 *
 * - keys are encoded as Deno KV orders them (_key_codec.ts) into a `bytea`
 *   primary key: `ORDER BY k` is Deno KV's order, lists are byte ranges,
 *   cursors are Deno KV's;
 * - values are kept as Deno KV keeps them (_value_codec.ts), with its
 *   limits and errors;
 * - versionstamps come from one sequence, written as Deno KV writes them
 *   (20 hex digits), and a key's only grow;
 * - `atomic()` is one statement (one round trip): checks hold for absent
 *   keys too, until the commit ends (_schema.ts);
 * - `watch()` crosses processes: NOTIFY wakes it, a poll backs it up
 *   (_pg_watch.ts).
 *
 * - `expireIn`: the entry is deleted some time after (each node sweeps
 *   expired rows, by default every 10 s); like Deno KV's, it may be read
 *   until then.
 *
 * Not supported: `kv.enqueue` / `listenQueue` (the platform's queues are
 * DurableQueue records), versionstamps in keys or values
 * (`commitVersionstamp`). Reads are always strongly consistent.
 *
 * @example
 * ```ts
 * const kv = await openPgKv("postgres://jobico@db.internal/jobico");
 * await kv.set(["greeting"], "hello");
 * kv.close();
 * ```
 */
import postgres from "postgres";
import type { Sql } from "postgres";
import { decodeKey, encodeKey } from "./_key_codec.ts";
import { decodeValue } from "./_value_codec.ts";
import { type CommitPlan, PgAtomicOperation, stampText } from "./_pg_atomic.ts";
import { PgListIterator } from "./_pg_list.ts";
import { WatchHub } from "./_pg_watch.ts";
import { CHANNEL, migrate } from "./_schema.ts";

/**
 * Options of {@linkcode openPgKv}.
 *
 * @example
 * ```ts
 * const kv = await openPgKv(url, { connections: 4, watchPollMs: 250 });
 * ```
 */
export interface PgKvOptions {
  /**
   * Connections in the pool (one more listens for watches).
   *
   * @default {10}
   */
  connections?: number;
  /**
   * How often a watch re-reads its keys besides being notified, in ms; 0
   * for never.
   *
   * @default {1000}
   */
  watchPollMs?: number;
  /**
   * How often expired entries (expireIn) are deleted, in ms; 0 for never.
   *
   * @default {10000}
   */
  expirySweepMs?: number;
  /**
   * How many times a commit that deadlocked with another is retried.
   *
   * @default {20}
   */
  deadlockRetries?: number;
  /**
   * Told of errors no caller can be (a watch's re-read that failed).
   *
   * @default {() => {}}
   */
  onError?: (err: unknown) => void;
}

const BYTEA = 17;
const INT8 = 20;
const INT2 = 21;
const NUMERIC = 1700;
const MAX_READ_KEY = 2049;
const MAX_GET_MANY = 10;

interface Row {
  k?: Uint8Array;
  kind: number;
  v: Uint8Array | null;
  n: string | null;
  vs: string;
}

const hex = (b: Uint8Array) => {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
};

function readKey(key: Deno.KvKey): Uint8Array {
  const bytes = encodeKey(key);
  if (bytes.length > MAX_READ_KEY) {
    throw new TypeError(`Key too large for read (max ${MAX_READ_KEY} bytes)`);
  }
  return bytes;
}

function entry(
  key: Deno.KvKey,
  row: Row | undefined,
): Deno.KvEntryMaybe<unknown> {
  if (!row) return { key, value: null, versionstamp: null };
  return {
    key,
    value: decodeValue(row.kind, row.v, row.n),
    versionstamp: stampText(row.vs),
  };
}

/** Opens the store at a `postgres://` URL, applying missing migrations. */
export async function openPgKv(
  url: string,
  options: PgKvOptions = {},
): Promise<PgKv> {
  const sql = postgres(url, {
    max: options.connections ?? 10,
    onnotice: () => {},
    connection: { application_name: "jobico" },
  });
  try {
    await migrate(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
  return new PgKv(sql, options);
}

/** A `Deno.Kv` on PostgreSQL (see the module's documentation). */
export class PgKv implements Deno.Kv {
  readonly #sql: Sql;
  readonly #watches: WatchHub;
  readonly #retries: number;
  readonly #sweeper: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;
  #closed = false;
  /**
   * How many reads it runs at once: its pool's connections. A
   * `ReadBatcher` on it reads that many at once, as soon as a key is
   * asked, instead of gathering keys behind one read (which suits Deno
   * KV's one SQLite thread, not a pool of connections).
   */
  readonly readsAtOnce: number;

  /** Use {@linkcode openPgKv}, which applies the migrations first. */
  constructor(sql: Sql, options: PgKvOptions = {}) {
    this.#sql = sql;
    this.readsAtOnce = options.connections ?? 10;
    this.#retries = options.deadlockRetries ?? 20;
    this.#watches = new WatchHub(
      {
        read: (keys) => this.#readMany(keys),
        register: async (keys) => {
          await sql.unsafe(
            `insert into jobico_kv_watched (k) select unnest($1::bytea[]) on conflict do nothing`,
            [sql.array(keys as never, BYTEA)],
          );
        },
        listen: async (onNotify, onListen) => {
          const { unlisten } = await sql.listen(CHANNEL, onNotify, onListen);
          return unlisten;
        },
      },
      options.watchPollMs ?? 1000,
      options.onError ?? (() => {}),
    );
    const sweepMs = options.expirySweepMs ?? 10_000;
    if (sweepMs > 0) {
      this.#sweeper = setInterval(
        () => this.#sweep().catch(options.onError ?? (() => {})),
        sweepMs,
      );
    }
  }

  /** Deletes entries past their expireIn, a thousand at a time. */
  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#closed) return;
    this.#sweeping = true;
    try {
      for (;;) {
        const done = await this.#sql.unsafe(
          `delete from jobico_kv where k in (select k from jobico_kv
             where expires < clock_timestamp() limit 1000)`,
        );
        if (done.count < 1000 || this.#closed) break;
      }
    } finally {
      this.#sweeping = false;
    }
  }

  async get<T = unknown>(key: Deno.KvKey): Promise<Deno.KvEntryMaybe<T>> {
    const k = readKey(key);
    const [row] = await this.#sql.unsafe<Row[]>(
      "select kind, v, n, vs from jobico_kv where k = $1",
      [k as never],
      { prepare: true },
    );
    return entry(key, row) as Deno.KvEntryMaybe<T>;
  }

  async #readMany(keys: Uint8Array[]): Promise<Deno.KvEntryMaybe<unknown>[]> {
    const rows = await this.#sql.unsafe<Row[]>(
      "select k, kind, v, n, vs from jobico_kv where k = any($1::bytea[])",
      [this.#sql.array(keys as never, BYTEA)],
      { prepare: true },
    );
    const byKey = new Map(rows.map((r) => [hex(r.k!), r]));
    return keys.map((k) => entry(decodeKey(k), byKey.get(hex(k))));
  }

  // deno-lint-ignore no-explicit-any
  async getMany<T extends readonly unknown[]>(keys: any): Promise<any> {
    const list = keys as readonly Deno.KvKey[];
    if (list.length > MAX_GET_MANY) {
      throw new TypeError(`Too many ranges (max ${MAX_GET_MANY})`);
    }
    const encoded = list.map(readKey);
    const entries = await this.#readMany(encoded);
    // The keys as given (numbers stay numbers, not re-decoded).
    return entries.map((e, i) => ({ ...e, key: list[i] })) as unknown as {
      [K in keyof T]: Deno.KvEntryMaybe<T[K]>;
    };
  }

  async set(
    key: Deno.KvKey,
    value: unknown,
    options?: { expireIn?: number },
  ): Promise<Deno.KvCommitResult> {
    return await this.atomic().set(key, value, options)
      .commit() as Deno.KvCommitResult;
  }

  async delete(key: Deno.KvKey): Promise<void> {
    await this.atomic().delete(key).commit();
  }

  list<T = unknown>(
    selector: Deno.KvListSelector,
    options: Deno.KvListOptions = {},
  ): Deno.KvListIterator<T> {
    return new PgListIterator<T>(
      async (lo, hi, limit, reverse) => {
        const rows = await this.#sql.unsafe<Row[]>(
          `select k, kind, v, n, vs from jobico_kv where k >= $1 and k < $2 order by k ${
            reverse ? "desc" : "asc"
          } limit $3`,
          [lo as never, hi as never, limit],
          { prepare: true },
        );
        const entries = rows.map((r) => entry(decodeKey(r.k!), r)) as
          & Deno.KvEntry<unknown>[]
          & { rawKeys: Uint8Array[] };
        entries.rawKeys = rows.map((r) => r.k!);
        return entries;
      },
      selector,
      options,
    );
  }

  enqueue(_value: unknown): Promise<Deno.KvCommitResult> {
    return Promise.reject(
      new TypeError(
        "kv.enqueue is not supported by the PostgreSQL store (the platform's queues are DurableQueue records)",
      ),
    );
  }

  listenQueue(_handler: (value: unknown) => unknown): Promise<void> {
    return Promise.reject(
      new TypeError(
        "kv.listenQueue is not supported by the PostgreSQL store (the platform's queues are DurableQueue records)",
      ),
    );
  }

  atomic(): Deno.AtomicOperation {
    return new PgAtomicOperation((plan) => this.#commit(plan));
  }

  async #commit(plan: CommitPlan): Promise<string | null> {
    const sql = this.#sql;
    const params = [
      sql.array(plan.checkKeys as never, BYTEA),
      sql.array(plan.checkStamps as never, INT8),
      sql.array(plan.adjKeys as never, BYTEA),
      sql.array(plan.adjOps as never, INT2),
      sql.array(plan.adjOperands as never, NUMERIC),
      sql.array(plan.setKeys as never, BYTEA),
      sql.array(plan.setKinds as never, INT2),
      sql.array(plan.setBytes as never, BYTEA),
      sql.array(plan.setU64 as never, NUMERIC),
      sql.array(plan.setExpireIn as never, INT8),
      sql.array(plan.delKeys as never, BYTEA),
    ];
    for (let attempt = 0;; attempt++) {
      try {
        const [row] = await sql.unsafe<{ vs: string | null }[]>(
          `select jobico_kv_commit($1::bytea[], $2::int8[], $3::bytea[], $4::int2[], $5::numeric[],
             $6::bytea[], $7::int2[], $8::bytea[], $9::numeric[], $10::int8[],
             $11::bytea[]) as vs`,
          params as never[],
          { prepare: true },
        );
        return row.vs;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "JK001") throw new TypeError((err as Error).message);
        // Two commits that locked keys in different orders: one of them
        // was chosen to fail; it had written nothing, so it runs again.
        if ((code === "40P01" || code === "40001") && attempt < this.#retries) {
          await new Promise((r) =>
            setTimeout(r, Math.random() * 5 * (attempt + 1))
          );
          continue;
        }
        throw err;
      }
    }
  }

  // deno-lint-ignore no-explicit-any
  watch(keys: any, options?: { raw?: boolean }): ReadableStream<any> {
    if (options?.raw) {
      throw new TypeError(
        "raw watches are not supported by the PostgreSQL store",
      );
    }
    return this.#watches.watch(keys as readonly Deno.KvKey[]);
  }

  commitVersionstamp(): symbol {
    throw new TypeError(
      "versionstamps in keys or values are not supported by the PostgreSQL store",
    );
  }

  /** Ends watches and closes the connections (pending queries finish first). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#closing = (async () => {
      await this.#watches.close();
      await this.#sql.end({ timeout: 5 });
    })();
  }

  #closing: Promise<void> | null = null;

  /** Resolves when {@linkcode close} has finished closing the connections. */
  async closed(): Promise<void> {
    this.close();
    await this.#closing;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
