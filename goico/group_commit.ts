/**
 * Group commit: the atomic writes of many concurrent callers committed
 * together, in one KV atomic operation, so that one storage commit (one
 * fsync on a SQLite KV) carries many of them.
 *
 * A caller hands in a part (the checks and mutations it would have put in
 * its own atomic) and is answered when the commit that holds it is done:
 * its writes are then durable, exactly as after its own `commit()`. A part
 * is never split, so it stays all-or-nothing. While one commit is under way
 * the parts that arrive wait and go together in the next one (no timer: a
 * lone caller is committed at once). A group stays within the KV limits of
 * one atomic (mutations, checks, bytes of keys and values), and two parts
 * that check the same key never share a commit (both checks would see the
 * state before either write). When a group's commit is refused (a check
 * failed) or throws, its parts are committed one by one, in order, so each
 * caller gets the answer its own atomic would have had; when the store
 * itself fails (a full disk, see store_error.ts), every part gets the error
 * at once.
 *
 * Parts are committed in the order they were handed in.
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
}

type Result = Deno.KvCommitResult | Deno.KvCommitError;
const U64 = 1n << 64n;

interface Waiting {
  part: CommitPart;
  resolve: (r: Result) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  readonly #pending: Waiting[] = [];
  #running = false;
  readonly #max: Required<GroupCommitOptions>;
  /** Commits made, and parts they carried (for tests and benchmarks). */
  readonly stats = { commits: 0, parts: 0 };

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
    }, options);
  }

  /** Commits a part with whatever else is waiting; resolves as its own `commit()` would. */
  commit(part: CommitPart): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ part, resolve, reject });
      if (this.#running) return;
      this.#running = true;
      // Parts handed in during this turn of the event loop join the first commit.
      queueMicrotask(() => this.#loop());
    });
  }

  async #loop(): Promise<void> {
    try {
      while (this.#pending.length > 0) await this.#commit(this.#take());
    } finally {
      this.#running = false;
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
      res = await op.commit();
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
      this.stats.parts += res.ok ? group.length : 0;
      for (const w of group) w.resolve(res);
    } else group[0].reject(error);
  }
}

/** A string that is equal for equal keys (distinct keys may share one: that only splits a group). */
function keyId(key: Deno.KvKey): string {
  return key.map((p) =>
    typeof p === "object"
      ? `b:${Array.from(p).join(",")}`
      : `${typeof p}:${String(p)}`
  ).join("\u0000");
}
