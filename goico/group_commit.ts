/**
 * Group commit: the atomic writes of many concurrent callers committed
 * together, in one KV atomic operation, so that one storage commit (one
 * fsync on a SQLite KV) carries many of them.
 *
 * A caller hands in a part (the checks and mutations it would have put in
 * its own atomic) and is answered when the commit that holds it is done:
 * its writes are then durable, exactly as after its own `commit()`. A part
 * is never split, so it stays all-or-nothing. While a commit is under way
 * the parts that arrive wait and go together in the next one (no timer: a
 * lone caller is committed at once); once they hold `overlapMutations`
 * (100) they are handed to the store at once, a second commit under way
 * (`maxInFlight`), which the store writes after the first: batches
 * overlap the main thread's part of a commit with the store's (100-item
 * batches 109,500 -> 128,600 items/s), single events keep sharing one
 * group (two small commits cost more than one: 19,200 -> 17,800 req/s
 * when they did not wait; bench/ingest_compare.ts). A group stays within
 * the KV limits of one atomic (mutations, checks, bytes of keys and
 * values), and two parts
 * that check the same key never share a commit (both checks would see the
 * state before either write). When a group's commit is refused (a check
 * failed) or throws, its parts are committed one by one, in order, so each
 * caller gets the answer its own atomic would have had; when the store
 * itself fails (a full disk, see store_error.ts), every part gets the error
 * at once.
 *
 * Parts are committed in the order they were handed in, except that the
 * parts of a refused group, committed one by one, come after a group that
 * was already under way beside it (none of them had been answered: no
 * caller saw an order).
 *
 * Bookkeeping that many parts share (a counter every append bumps, a
 * marker every append sets) can be handed in as `sums` and `sets` instead
 * of being written by `write`: a group writes each such key once, the sums
 * added up (modulo 2^64, as KV sums wrap) and, of the sets, the last value,
 * which is what the parts' own writes in order would have left.
 */

import { storeFailure } from "./store_error.ts";
import { withDefaults } from "./with_defaults.ts";

export interface CommitPart {
  /** Adds the part's checks and mutations to an atomic operation. */
  write(op: Deno.AtomicOperation): void;
  /** How many mutations `write` adds. */
  mutations: number;
  /** An upper bound of the bytes of its keys and values. */
  bytes: number;
  /** An upper bound of the bytes of its keys alone. */
  keyBytes: number;
  /** The keys it checks (a `check()` each). */
  checks?: Deno.KvKey[];
  /** KvU64 sums that the group merges per key (counted in `mutations`). */
  sums?: [Deno.KvKey, bigint][];
  /** Sets that the group merges per key, last one winning (counted in `mutations`). */
  sets?: [Deno.KvKey, unknown][];
}

/**
 * The bounds of one commit of a {@linkcode GroupCommit}: Deno KV's own
 * limits unless smaller ones are given.
 *
 * @example
 * ```ts
 * const commits = new GroupCommit(kv, { maxMutations: 500 });
 * ```
 */
export interface GroupCommitOptions {
  /**
   * Mutations of one commit (the KV limit).
   *
   * @default {1000}
   */
  maxMutations?: number;
  /**
   * Checks of one commit (the KV limit).
   *
   * @default {100}
   */
  maxChecks?: number;
  /**
   * Bytes of keys and values of one commit (the KV limit: 800 KiB).
   *
   * @default {819200}
   */
  maxBytes?: number;
  /**
   * Bytes of keys of one commit (the KV limit: 80 KiB).
   *
   * @default {81920}
   */
  maxKeyBytes?: number;
  /**
   * Commits under way at once. Default 2: while one is being written, the
   * next group is handed to the store as soon as it is large enough (see
   * `overlapMutations`), so the main thread's part of a commit (converting
   * its mutations, about 2-3 µs each) overlaps the store's. Commits are
   * still written in the order they were handed to the store.
   */
  maxInFlight?: number;
  /**
   * Mutations that must wait before a commit starts while another is under
   * way. Default 100: small parts (single events) keep gathering into one
   * group, which costs less per part than two small commits; large ones
   * (batches) do not wait.
   */
  overlapMutations?: number;
}

type Result = Deno.KvCommitResult | Deno.KvCommitError;
const U64 = 1n << 64n;

interface Waiting {
  part: CommitPart;
  /** When it was handed in (performance.now()). */
  at: number;
  resolve: (r: Result) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  readonly #pending: Waiting[] = [];
  #scheduled = false;
  #inFlight = 0;
  /** Mutations of the parts waiting. */
  #waitingMutations = 0;
  readonly #max: Required<GroupCommitOptions>;
  /**
   * Commits made and parts they carried; the time commits were under way
   * and the time parts waited from being handed in to their answer, in ms
   * (for metrics, tests and benchmarks).
   */
  readonly stats = { commits: 0, parts: 0, commitMs: 0, waitMs: 0 };

  constructor(
    private readonly kv: Deno.Kv,
    options: GroupCommitOptions = {},
  ) {
    // An option given as undefined keeps its default (a spread would not).
    this.#max = withDefaults({
      maxMutations: 1000,
      maxChecks: 100,
      maxBytes: 800 * 1024,
      maxKeyBytes: 80 * 1024,
      maxInFlight: 2,
      overlapMutations: 100,
    }, options);
  }

  /** Commits a part with whatever else is waiting; resolves as its own `commit()` would. */
  commit(part: CommitPart): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ part, at: performance.now(), resolve, reject });
      this.#waitingMutations += part.mutations;
      if (this.#scheduled || this.#inFlight >= this.#max.maxInFlight) return;
      this.#scheduled = true;
      // Parts handed in during this turn of the event loop join the first commit.
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#start();
      });
    });
  }

  /** Starts commits of what waits, up to `maxInFlight` at once. */
  #start(): void {
    const m = this.#max;
    while (
      this.#inFlight < m.maxInFlight && this.#pending.length > 0 &&
      (this.#inFlight === 0 || this.#waitingMutations >= m.overlapMutations)
    ) {
      this.#inFlight++;
      const group = this.#take();
      for (const w of group) this.#waitingMutations -= w.part.mutations;
      this.#commit(group).finally(() => {
        this.#inFlight--;
        this.#start();
      });
    }
  }

  /** The longest run of waiting parts, from the first, that fits one commit. */
  #take(): Waiting[] {
    const m = this.#max;
    let mutations = 0, checks = 0, bytes = 0, keyBytes = 0;
    const checked = new Set<string>();
    let n = 0;
    for (; n < this.#pending.length; n++) {
      const p = this.#pending[n].part;
      const keys = (p.checks ?? []).map(keyId);
      if (
        n > 0 && (
          mutations + p.mutations > m.maxMutations ||
          checks + keys.length > m.maxChecks ||
          bytes + p.bytes > m.maxBytes ||
          keyBytes + p.keyBytes > m.maxKeyBytes ||
          keys.some((k) => checked.has(k))
        )
      ) break;
      mutations += p.mutations;
      checks += keys.length;
      bytes += p.bytes;
      keyBytes += p.keyBytes;
      keys.forEach((k) => checked.add(k));
    }
    return this.#pending.splice(0, Math.max(1, n));
  }

  async #commit(group: Waiting[]): Promise<void> {
    let res: Result | undefined;
    let error: unknown;
    try {
      const op = this.kv.atomic();
      const sums = new Map<string, [Deno.KvKey, bigint]>();
      const sets = new Map<string, [Deno.KvKey, unknown]>();
      for (const { part } of group) {
        part.write(op);
        for (const [key, n] of part.sums ?? []) {
          const id = keyId(key);
          sums.set(id, [key, ((sums.get(id)?.[1] ?? 0n) + n) % U64]);
        }
        for (const [key, value] of part.sets ?? []) {
          const id = keyId(key);
          sets.delete(id); // the last set of a key is the one written
          sets.set(id, [key, value]);
        }
      }
      for (const [key, n] of sums.values()) op.sum(key, n);
      for (const [key, value] of sets.values()) op.set(key, value);
      this.stats.commits++;
      const t0 = performance.now();
      try {
        res = await op.commit();
      } finally {
        this.stats.commitMs += performance.now() - t0;
      }
    } catch (err) {
      error = err;
    }
    if (group.length > 1 && error !== undefined && storeFailure(error)) {
      // The store takes no writes (a full disk): each part on its own would
      // fail the same way, one commit after the other.
      for (const w of group) w.reject(error);
      return;
    }
    if (group.length > 1 && !res?.ok) {
      // One part's check failed, or the group did not fit: each on its own.
      for (const w of group) await this.#commit([w]);
      return;
    }
    if (res) {
      if (res.ok) {
        const now = performance.now();
        this.stats.parts += group.length;
        for (const w of group) this.stats.waitMs += now - w.at;
      }
      for (const w of group) w.resolve(res);
    } else group[0].reject(error);
  }
}

/** The ids of keys met before (callers that hand in the same key arrays again save building them). */
const ids = new WeakMap<Deno.KvKey, string>();

/**
 * A string that is equal for equal keys (distinct keys may share one: that
 * only splits a group). A key array is not to be changed once handed in.
 */
function keyId(key: Deno.KvKey): string {
  let id = ids.get(key);
  if (id === undefined) {
    id = key.map((p) =>
      typeof p === "object"
        ? `b:${Array.from(p).join(",")}`
        : `${typeof p}:${String(p)}`
    ).join("\u0000");
    ids.set(key, id);
  }
  return id;
}
