/**
 * Group commit: the atomic writes of many concurrent callers committed
 * together, in one KV atomic operation, so that one storage commit (one
 * fsync on a SQLite KV) carries many of them.
 *
 * A caller hands in a part (a `WriteBatch`: the checks and mutations it
 * would have committed on its own) and is answered when the commit that
 * holds it is done:
 * its writes are then durable, exactly as after its own `commit()`. A part
 * is never split, so it stays all-or-nothing. While a commit is under way
 * the parts that arrive wait and go together in the next one (no timer: a
 * lone caller is committed at once); once they hold `overlapMutations`
 * (100) they are handed to the store at once, a second commit under way
 * (`maxInFlight`), which the store writes after the first: batches
 * overlap the main thread's part of a commit with the store's (100-item
 * batches 109,500 -> 128,600 items/s), single events keep sharing one
 * group (two small commits cost more than one: 19,200 -> 17,800 req/s
 * when they did not wait; bench/ingest_compare.ts). A group takes parts
 * while they fit beside each other, as their batches measure them
 * (`WriteBatch.fits`, against the KV's limits or smaller ones given), and
 * two parts that check the same key never share a commit (both checks
 * would see the state before either write); a part that fits no group
 * goes alone. When a group's commit is refused (a check
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
 * marker every append sets) is written once per group: a batch merges the
 * sums of one key and keeps the last of the shared sets (`setShared`),
 * which is what the parts' own writes in order would have left.
 */

import { KV_LIMITS, type KvLimits } from "./kv_limits.ts";
import { storeFailure } from "./store_error.ts";
import { withDefaults } from "./with_defaults.ts";
import { WriteBatch } from "./write_batch.ts";

/**
 * The bounds of one commit of a {@linkcode GroupCommit} and how commits
 * overlap.
 *
 * @example
 * ```ts
 * const commits = new GroupCommit(kv, { limits: { ...KV_LIMITS, mutations: 500 } });
 * ```
 */
export interface GroupCommitOptions {
  /**
   * The limits of one commit.
   *
   * @default {KV_LIMITS}
   */
  limits?: KvLimits;
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

interface Waiting {
  part: WriteBatch;
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
  readonly #o: Required<GroupCommitOptions>;
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
    this.#o = withDefaults({
      limits: KV_LIMITS,
      maxInFlight: 2,
      overlapMutations: 100,
    }, options);
  }

  /** Commits a part with whatever else is waiting; resolves as its own `commit()` would. */
  commit(part: WriteBatch): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ part, at: performance.now(), resolve, reject });
      this.#waitingMutations += part.mutations;
      if (this.#scheduled || this.#inFlight >= this.#o.maxInFlight) return;
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
    const o = this.#o;
    while (
      this.#inFlight < o.maxInFlight && this.#pending.length > 0 &&
      (this.#inFlight === 0 || this.#waitingMutations >= o.overlapMutations)
    ) {
      this.#inFlight++;
      const { group, batch } = this.#take();
      for (const w of group) this.#waitingMutations -= w.part.mutations;
      this.#commit(group, batch).finally(() => {
        this.#inFlight--;
        this.#start();
      });
    }
  }

  /**
   * The longest run of waiting parts, from the first, that fits one
   * commit, and the batch that writes them (the first part's own when it
   * goes alone).
   */
  #take(): { group: Waiting[]; batch: WriteBatch } {
    const pending = this.#pending;
    const first = pending[0].part;
    let batch: WriteBatch | null = null;
    let n = 1;
    for (; n < pending.length; n++) {
      const p = pending[n].part;
      if (!batch) {
        const empty = new WriteBatch(this.kv, this.#o.limits);
        if (!empty.fits(first)) break;
        batch = empty.add(first);
      }
      if (!batch.fits(p) || batch.checksOverlap(p)) break;
      batch.add(p);
    }
    return { group: pending.splice(0, n), batch: n > 1 ? batch! : first };
  }

  async #commit(group: Waiting[], batch: WriteBatch): Promise<void> {
    let res: Result | undefined;
    let error: unknown;
    this.stats.commits++;
    const t0 = performance.now();
    try {
      res = await batch.commit();
    } catch (err) {
      error = err;
    } finally {
      this.stats.commitMs += performance.now() - t0;
    }
    if (group.length > 1 && error !== undefined && storeFailure(error)) {
      // The store takes no writes (a full disk): each part on its own would
      // fail the same way, one commit after the other.
      for (const w of group) w.reject(error);
      return;
    }
    if (group.length > 1 && !res?.ok) {
      // One part's check failed, or the store refused the group: each on its own.
      for (const w of group) await this.#commit([w], w.part);
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
