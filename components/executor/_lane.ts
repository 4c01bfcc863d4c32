/**
 * One queue's lane in the executor: it drains the queue in order while
 * overlapping its waits. Two loops share the lane's state:
 *
 * - the runner takes the leased items, in order, and runs them in the
 *   sandbox (`execute`), one batch after the other;
 * - the committer commits, in order, the outcomes the runner produced,
 *   and in the same atomic leases the next batch (`leaseInto`), so that
 *   one commit (one fsync on a SQLite KV) both records a batch and leases
 *   the one after next while the runner runs the batch in between.
 *
 * Data flows one way: leased items go to `execute` (the executor's job:
 * items in, outcomes out), outcomes go to the `writer` (storing them:
 * each outcome's writes measured in a `WriteBatch`). The lane's own job is
 * the order and the overlap; it packs a commit by measure: the oldest
 * outcomes while they fit, then as many of the head's items as fit beside
 * them.
 *
 * So events of a queue still run one after the other in queue order, and
 * their outcomes are committed in that order; an item is leased before it
 * runs, and acknowledged in the atomic that records its execution. Items
 * held (leased and not yet recorded) have their leases renewed while they
 * wait. When the lane stops (shutdown) it commits what ran and hands back
 * at once what it leased and did not run.
 *
 * Batch size adapts: a lease takes what the head of the queue holds, up to
 * what the runner gets through in about TARGET_BATCH_MS (at most
 * `maxBatch`, and what fits in one atomic beside the outcomes); a shallow
 * queue gives small batches, a slow Jobicolet few items leased ahead.
 * Outcomes are committed as soon as their batch has run (no timer), or
 * after FLUSH_AFTER_MS while a slow batch is still running.
 */
import {
  type DurableQueue,
  type GatedPick,
  type GateHold,
  KV_LIMITS,
  KvLimitError,
  type Logger,
  type QueuedItem,
  storeFailure,
  WriteBatch,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";

type Item = QueuedItem<EventItem>;

/**
 * An item's outcome was not made because its lease was taken back before
 * it ran: it was delivered again, to this consumer or another.
 */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/** What the lane needs to know of an outcome: the item it is of. */
export interface LaneOutcome {
  item: Item;
}

/** Stores outcomes (see outcome_writer.ts). */
export interface LaneWriter<D extends LaneOutcome> {
  /**
   * The writes that store an outcome, in a batch of their own.
   *
   * @throws {KvLimitError} when no atomic can hold them
   */
  part(outcome: D): WriteBatch;
  /** Commits outcomes on their own (when a commit with a lease beside them failed). */
  commit(outcomes: D[]): Promise<void>;
  /** Told of outcomes that a commit of the lane stored, with its versionstamp. */
  recorded(outcomes: D[], versionstamp: string): void;
  /** Told of an error of the store; true when it is a store failure (a full disk). */
  storeFailed(err: unknown): boolean;
}

export interface LaneOptions<D extends LaneOutcome> {
  name: string;
  kv: Deno.Kv;
  queue: DurableQueue<EventItem>;
  logger: Logger;
  signal: AbortSignal;
  /** At most this many items leased and not yet run. */
  maxBatch: number;
  /**
   * Runs items in order and hands each outcome to `emit` as soon as it is
   * known, in order. Returns how many ran, from the first (fewer when the
   * signal aborted). An outcome rejected with a LeaseLostError is an item
   * not run because it was delivered again meanwhile: nothing is recorded.
   */
  execute(
    items: Item[],
    emit: (item: Item, outcome: Promise<D>) => void,
  ): Promise<number>;
  /** Stores the outcomes. */
  writer: LaneWriter<D>;
  /**
   * The queue's pace, kept by the caller from one lane of the queue to the
   * next: average run time of an item in ms, 0 while unknown.
   */
  pace?: { msPerItem: number };
  /** How long an idle lane waits for new items before it retires. Default 1 s. */
  lingerMs?: number;
  /**
   * The concurrency gates items must pass before they are leased (see
   * concurrency_gates.ts); none when absent.
   */
  gates?: LaneGates;
  /**
   * While items wait for a gate, how often the lane looks again (a gate
   * given back by another process), in ms. Default 50.
   */
  gatePollMs?: number;
}

/** What a lane asks of the concurrency gates (see concurrency_gates.ts). */
export interface LaneGates {
  /** Of entries read at the head, those that may be leased now, at most `max`, in order. */
  pick(
    entries: Deno.KvEntry<Item>[],
    max: number,
  ): Promise<GatedPick<EventItem>>;
  /** Calls `fn` when a lane of this process gave gates back; returns the unsubscribe. */
  subscribe(fn: () => void): () => void;
  /** Tells the waiting lanes that gates were given back. */
  released(): void;
}

/**
 * Items read from the head at once, at most: a lease checks each, and an
 * atomic takes KV_LIMITS.checks (the batch then takes as many as fit).
 */
const MAX_HEAD = KV_LIMITS.checks;
/**
 * Items read at once past the head when the first ones wait for their
 * gates: items of other gates behind them are leased meanwhile. Items
 * further back wait until the head moves.
 */
export const GATED_SCAN = 1_000;
/** Commit the outcomes of a batch still running once the oldest waited this long. */
const FLUSH_AFTER_MS = 15;
/** Lease about what runs in this long. */
const TARGET_BATCH_MS = 50;
/** Items leased at once while the pace of the queue is unknown. */
const FIRST_BATCH = 16;
/**
 * After a commit fails because the store takes no writes (a full disk),
 * the lane waits before it commits or leases again: this long at first,
 * doubling up to STORE_BACKOFF_MAX_MS while the failures go on.
 */
const STORE_BACKOFF_MIN_MS = 100;
const STORE_BACKOFF_MAX_MS = 5_000;

export class Lane<D extends LaneOutcome> {
  readonly #o: LaneOptions<D>;
  /** Leased and not yet run, in queue order. */
  readonly #leased: Item[] = [];
  /** Outcomes not yet committed, in queue order, with when each came. */
  readonly #outcomes: { item: Item; outcome: Promise<D>; at: number }[] = [];
  /** Of `#outcomes`, how many (from the first) belong to batches that ran to the end. */
  #complete = 0;
  /** Items leased and not yet recorded, with when their lease was last set. */
  readonly #held = new Map<Item, number>();
  #running = false;
  /** The last look at the head found as many items as it asked for. */
  #deep = false;
  /** The head of the queue may hold items: a change came since it was last seen short. */
  #mayHaveMore = true;
  #pokes = 0;
  readonly #pace: { msPerItem: number };
  readonly #lingerMs: number;
  /** Items a lease may take, lowered when an atomic with them was too large. */
  #leaseCap = MAX_HEAD;
  #lastWork = performance.now();
  #retireAfter = 0;
  /** While the store fails: no commit or lease before this (performance.now()). */
  #pausedUntil = 0;
  #backoffMs = 0;
  #done = false;
  #wakeCommitter: (() => void) | null = null;
  #wakeRunner: (() => void) | null = null;
  /** The last look at the head found items waiting for a gate. */
  #gated = false;
  /** While gated: look again no sooner than this (performance.now()), unless a gate is given back here. */
  #lookAfter = 0;
  /** No look past a waiting head before this (performance.now()). */
  #scanAfter = 0;

  constructor(options: LaneOptions<D>) {
    this.#o = options;
    this.#pace = options.pace ?? { msPerItem: 0 };
    this.#lingerMs = options.lingerMs ?? 1_000;
  }

  /** True once the lane takes no more work (it retired or is stopping). */
  get stopped(): boolean {
    return this.#done;
  }

  /** Something was appended to some queue: look at the head again. */
  poke(): void {
    this.#pokes++;
    this.#mayHaveMore = true;
    this.#notifyCommitter();
  }

  /** Drains the queue until it is empty for a while (retired) or the signal aborts. */
  async run(): Promise<void> {
    const { signal, queue } = this.#o;
    const onAbort = () => {
      this.#notifyCommitter();
      this.#notifyRunner();
    };
    signal.addEventListener("abort", onAbort);
    const renewal = setInterval(
      () => this.#renew(),
      Math.max(25, queue.leaseMs / 4),
    );
    const unsubscribe = this.#o.gates?.subscribe(() => {
      if (!this.#gated) return;
      this.#lookAfter = 0;
      this.#notifyCommitter();
    });
    try {
      await Promise.all([this.#runner(), this.#committer()]);
    } finally {
      unsubscribe?.();
      clearInterval(renewal);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #notifyCommitter(): void {
    const wake = this.#wakeCommitter;
    this.#wakeCommitter = null;
    wake?.();
  }

  #notifyRunner(): void {
    const wake = this.#wakeRunner;
    this.#wakeRunner = null;
    wake?.();
  }

  /** Runs leased batches one after the other. */
  async #runner(): Promise<void> {
    const { signal, execute } = this.#o;
    try {
      while (!this.#done && !signal.aborted) {
        if (this.#leased.length === 0) {
          await new Promise<void>((r) => this.#wakeRunner = r);
          continue;
        }
        const items = this.#leased.splice(0, this.#o.maxBatch);
        this.#running = true;
        const started = performance.now();
        let ran = 0;
        try {
          ran = await execute(items, (item, outcome) => {
            this.#outcomes.push({ item, outcome, at: performance.now() });
            if (this.#outcomes.length === 1) this.#notifyCommitter();
          });
        } finally {
          this.#running = false;
          this.#complete = this.#outcomes.length;
          this.#notifyCommitter();
        }
        if (ran > 0) {
          const ms = (performance.now() - started) / ran;
          const pace = this.#pace;
          pace.msPerItem = pace.msPerItem === 0
            ? ms
            : 0.7 * pace.msPerItem + 0.3 * ms;
        }
        // Stopped midway: the rest goes back with the other leased items.
        this.#leased.unshift(...items.slice(ran));
      }
    } catch (err) {
      // The items not run lapse and come back after their lease.
      this.#o.logger.error("running a queue's events failed", {
        queue: this.#o.name,
        error: String(err),
      });
      this.#done = true;
      this.#leased.length = 0;
      this.#notifyCommitter();
    }
  }

  /** Commits outcomes in order, leasing ahead in the same atomics. */
  async #committer(): Promise<void> {
    const { signal, queue, name } = this.#o;
    try {
      for (;;) {
        if (this.#done || signal.aborted) {
          // Stopping: commit what ran once the runner stopped, give back the rest.
          if (this.#running) await this.#sleep(FLUSH_AFTER_MS);
          else if (this.#outcomes.length > 0) await this.#step(false);
          else break;
          continue;
        }
        const now = performance.now();
        if (now < this.#pausedUntil) {
          // The store failed: no commit, no lease, no retry in a loop.
          await this.#sleep(this.#pausedUntil - now);
          continue;
        }
        const target = this.#target();
        const look = this.#mayHaveMore ||
          (this.#gated && now >= this.#lookAfter);
        const lease = look && this.#leased.length < target / 2;
        const oldest = this.#outcomes[0]?.at;
        const flush = this.#complete > 0 ||
          (oldest !== undefined && now - oldest >= FLUSH_AFTER_MS);
        if (lease || flush) {
          // A deep queue: the outcomes and the next lease in one commit. A
          // shallow one: the outcomes at once, without waiting for a read.
          await this.#step(lease && (this.#deep || !flush));
          continue;
        }
        const idle = !this.#running && this.#leased.length === 0 &&
          this.#outcomes.length === 0 && !this.#mayHaveMore && !this.#gated;
        if (
          idle && now - this.#lastWork >= this.#lingerMs &&
          now >= this.#retireAfter
        ) {
          if (await queue.retireIfEmpty(name)) {
            this.#done = true;
            break;
          }
          // An append raced with the look at the head, or items are in
          // flight elsewhere: look again, and retire no sooner than shortly.
          this.#mayHaveMore = true;
          this.#retireAfter = performance.now() + 50;
          continue;
        }
        let wait = oldest !== undefined
          ? FLUSH_AFTER_MS - (now - oldest)
          : this.#retireAfter > now
          ? this.#retireAfter - now
          : idle
          ? this.#lingerMs - (now - this.#lastWork)
          : undefined;
        if (this.#gated) {
          // Items wait for a gate: look again when one may be free.
          wait = Math.min(wait ?? Infinity, this.#lookAfter - now);
        }
        await this.#sleep(wait);
      }
    } catch (err) {
      this.#o.logger.error("draining a queue failed", {
        queue: name,
        error: String(err),
      });
    } finally {
      this.#done = true;
      this.#notifyRunner();
    }
    // Leased and not run: back to the head of the queue at once.
    const back = this.#leased.splice(0);
    if (back.length > 0 && signal.aborted) {
      await queue.release(back).catch((err) =>
        this.#o.logger.warn("handing back leased events failed", {
          queue: name,
          error: String(err),
        })
      );
    }
  }

  /** Waits until notified, or `ms` passed when given. */
  async #sleep(ms?: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wakeCommitter = resolve;
      if (ms !== undefined) timer = setTimeout(resolve, Math.max(1, ms));
    });
    clearTimeout(timer);
    this.#wakeCommitter = null;
  }

  /** Items to lease at once: about TARGET_BATCH_MS of running. */
  #target(): number {
    const max = this.#o.maxBatch;
    const { msPerItem } = this.#pace;
    if (msPerItem === 0) return Math.min(max, FIRST_BATCH);
    return Math.max(1, Math.min(max, Math.round(TARGET_BATCH_MS / msPerItem)));
  }

  /**
   * One commit: the oldest outcomes that fit, and when `lease` the items at
   * the head of the queue that fit beside them, leased.
   */
  async #step(lease: boolean): Promise<void> {
    const { queue, name } = this.#o;
    // The head first: outcomes that come meanwhile go in this commit too.
    let entries: Deno.KvEntry<Item>[] = [];
    let holds: Map<Deno.KvEntry<Item>, GateHold> | undefined;
    if (lease) {
      const room = Math.min(
        this.#target() - this.#leased.length,
        this.#leaseCap,
        MAX_HEAD,
      );
      const pokes = this.#pokes;
      entries = room > 0 ? await queue.head(name, room) : [];
      this.#deep = entries.length === room;
      if (!this.#deep && pokes === this.#pokes) this.#mayHaveMore = false;
      const { gates } = this.#o;
      if (gates && entries.length > 0) {
        this.#lookAfter = performance.now() + (this.#o.gatePollMs ?? 50);
        let pick = await gates.pick(entries, room);
        const now = performance.now();
        if (pick.blocked > 0 && this.#deep && now >= this.#scanAfter) {
          // The head waits for its gates: look past it for items of others
          // (at most once a poll: a head of one hot key would be read
          // GATED_SCAN deep for every item).
          this.#scanAfter = now + (this.#o.gatePollMs ?? 50);
          pick = await gates.pick(await queue.head(name, GATED_SCAN), room);
        }
        this.#gated = pick.blocked > 0;
        entries = pick.take;
        holds = pick.holds;
      } else if (gates) this.#gated = false;
    }
    const taken = this.#outcomes.splice(0, this.#outcomes.length);
    this.#complete = 0;
    const settled = await Promise.allSettled(taken.map((t) => t.outcome));
    const ready: D[] = [];
    for (const [i, s] of settled.entries()) {
      if (s.status === "fulfilled") ready.push(s.value);
      else if (s.reason instanceof LeaseLostError) {
        this.#held.delete(taken[i].item);
        this.#o.logger.warn("an event was not run: its lease was taken back", {
          queue: name,
          eventId: taken[i].item.value.eventId,
        });
      } else {
        // Its item stays leased and comes back after its lease.
        this.#held.delete(taken[i].item);
        this.#o.logger.error("recording an execution failed", {
          queue: name,
          error: String(s.reason),
        });
      }
    }
    // The oldest outcomes while they fit; one no atomic can hold goes on
    // its own (the writer records why it cannot be stored).
    const op = new WriteBatch(this.#o.kv);
    const { writer } = this.#o;
    let alone: D | null = null;
    let n = 0;
    for (; n < ready.length; n++) {
      let part: WriteBatch;
      try {
        part = writer.part(ready[n]);
      } catch (err) {
        if (!(err instanceof KvLimitError)) throw err;
        if (n === 0) alone = ready[n++];
        break;
      }
      if (!op.fits(part)) break;
      op.add(part);
    }
    // What did not fit waits for the next commit, first in line.
    this.#outcomes.unshift(
      ...ready.slice(n).map((d) => ({
        item: d.item,
        outcome: Promise.resolve(d),
        at: performance.now() - FLUSH_AFTER_MS,
      })),
    );
    if (alone) {
      await writer.commit([alone]);
      this.#held.delete(alone.item);
      if (alone.item.gates) this.#o.gates?.released();
    }
    const records = alone ? [] : ready.slice(0, n);
    if (records.length === 0 && entries.length === 0) return;
    // Then as many of the head's items as fit beside them.
    const items = queue.leaseInto(op, entries, holds);
    let committed: Deno.KvCommitResult | undefined;
    let error: unknown;
    try {
      const res = await op.commit();
      if (res.ok) committed = res;
    } catch (err) {
      error = err;
    }
    if (committed) {
      this.#backoffMs = 0;
      for (const d of records) this.#held.delete(d.item);
      writer.recorded(records, committed.versionstamp);
      if (records.some((d) => d.item.gates)) this.#o.gates?.released();
      const now = performance.now();
      for (const it of items) this.#held.set(it, now);
      this.#leased.push(...items);
      if (items.length > 0) this.#notifyRunner();
      this.#lastWork = now;
      if (items.length === this.#leaseCap) {
        this.#leaseCap = Math.min(MAX_HEAD, Math.ceil(items.length * 1.25));
      }
      return;
    }
    if (error !== undefined && storeFailure(error)) {
      // The store takes no writes (a full disk). The outcomes are dropped
      // and their leases left to lapse: the events run again once the store
      // takes writes (never lost, recorded once). The lane waits before it
      // tries again, longer each time.
      writer.storeFailed(error);
      for (const d of records) this.#held.delete(d.item);
      if (this.#backoffMs === 0) {
        this.#o.logger.warn("the store takes no writes: the lane waits", {
          queue: name,
          dropped: records.length,
          error: String(error),
        });
      }
      this.#backoffMs = Math.min(
        STORE_BACKOFF_MAX_MS,
        Math.max(STORE_BACKOFF_MIN_MS, this.#backoffMs * 2),
      );
      this.#pausedUntil = performance.now() + this.#backoffMs;
      this.#mayHaveMore = true;
      return;
    }
    // The lease was refused (another consumer took an item meanwhile), or
    // the atomic failed, too large with the items leased beside the
    // outcomes (fewer are leased next time): the outcomes on their own, the
    // head looked at again.
    if (items.length > 0) {
      this.#mayHaveMore = true;
      if (error !== undefined) {
        this.#leaseCap = Math.max(1, Math.floor(items.length / 2));
      }
    } else if (error !== undefined) {
      this.#o.logger.warn("recording executions together failed", {
        queue: name,
        error: String(error),
      });
    }
    if (records.length > 0) {
      await writer.commit(records);
      for (const d of records) this.#held.delete(d.item);
      if (records.some((d) => d.item.gates)) this.#o.gates?.released();
    }
  }

  /** Extends the leases of items held for a quarter of a lease or more. */
  #renew(): void {
    const { queue } = this.#o;
    const now = performance.now();
    const due = [...this.#held].filter(([, at]) =>
      now - at >= queue.leaseMs / 4
    ).map(([it]) => it);
    if (due.length === 0) return;
    queue.renew(due).then(() => {
      for (const it of due) {
        if (this.#held.has(it)) this.#held.set(it, now);
      }
    }).catch((err) => {
      if (!this.#o.writer.storeFailed(err)) {
        this.#o.logger.warn("renewing leases failed", {
          queue: this.#o.name,
          error: String(err),
        });
      }
    });
  }
}
