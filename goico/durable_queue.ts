/**
 * Durable FIFO queues made of ordered KV records.
 *
 * `kv.enqueue` delivers out of order, re-delivers only ~60 s after a crash
 * and does not exist on remote KV, so every item is a record:
 *
 *   [...prefix, "ready",    queue, id]        -> item, waiting
 *   [...prefix, "inflight", queue, id]        -> item with a lease, being handled
 *   [...prefix, "delayed",  dueAt, queue, id] -> item waiting for a retry,
 *       or appended to wait until a time (`appendDelayedWrites`)
 *   [...prefix, "due",      queue, id]        -> the due time of an item
 *       appended delayed, so that it can be found by id (`cancel`)
 *   [...prefix, "dead",     queue, id]        -> dead letter: item and last error
 *   [...prefix, "active",   queue]            -> marker: the queue may hold items
 *   [...prefix, "epoch",    queue]            -> changes whenever a lease of the
 *       queue is taken back (expired) or the queue is dropped
 *   [...prefix, "count",    queue, name]      -> KvU64 counters: "in" (appended),
 *       "out" (acknowledged or dead-lettered), "acked", "dead"
 *
 * Ids must sort in the order items are accepted (see `monotonicId`). Items
 * are appended inside the caller's atomic, so an item exists exactly when
 * the write that accepted it committed. A consumer leases items (ready ->
 * inflight), handles them, and acknowledges each inside the atomic that
 * records its outcome; that atomic commits only while the lease is still
 * held (see "Leases" below). Leases that expire (the consumer died or
 * stalled) are put back in order with `attempt` raised. A failed item can be retried later
 * (`retry`, it keeps its place at the head of the queue when it is due) or
 * moved to the queue's dead letters (`deadLetter`), from where it can be
 * replayed or purged. The counters make `backlog` one read, so a producer
 * can refuse work before a queue grows without bound.
 *
 * Leases. An acknowledgement (`ack`, `retry`, `deadLetter`) checks that the
 * lease is still held: a consumer that stalled past its lease (a paused
 * process) must not record an outcome for an item that was delivered
 * again. Checking each item's in-flight entry would take one of the 100
 * checks an atomic allows per item; instead each queue has an epoch that
 * changes whenever one of its leases is taken back (`recoverExpired`) or
 * it is dropped, and an acknowledgement checks the epoch its lease was
 * taken under (one check per queue). When the epoch moved, the commit is
 * refused, and `confirm` tells which of the items are still held (and
 * holds them under the new epoch) and which were taken back.
 *
 * Crash loops. An item whose lease expires was either being handled when
 * its consumer died or stalled, or only waiting in the consumer's batch:
 * the queue cannot tell, so it counts a `lapse`, which is not a failure.
 * A consumer runs an item that lapsed (or crashed before) alone, after
 * `start` marked it started; if that lease expires too, the item stopped
 * its consumer: it counts as a failure (a `crash`), together with the
 * lapse before it, so an item that kills every process that runs it
 * reaches its consumer's retry limit after as many deliveries as one that
 * fails every time (at least two: the first only shows that its consumer
 * died with it leased).
 *
 * Records (items waiting, in flight, delayed, dead letters) are stored as
 * the `codec` option says: as they are (V8's serializer, the default) or as
 * JSON bytes (`jsonRecords`, several times cheaper to write and read); a
 * queue reads records of either form.
 *
 * A queue dropped while a consumer holds its items: the epoch goes with
 * it, so a consumer that took its leases before the epoch first existed
 * still commits (the caller sweeps again after a lease, see
 * components/tenants/delete_tenant.ts).
 */

import { ChangeFeed } from "./change_feed.ts";
import { deletePrefixes } from "./delete_prefixes.ts";
import { type RecordCodec, v8Records } from "./record_codec.ts";

export interface QueuedItem<T> {
  id: string;
  queue: string;
  value: T;
  /** 1 on first delivery, more after a lease expired. */
  attempt: number;
  /** Failed executions so far (see `retry`), crashes included. */
  failures: number;
  enqueuedAt: number;
  /**
   * Leases of it that expired without it being marked started (see the
   * header): its consumer died or stalled while it waited or ran. Not
   * failures; cleared when it is retried or replayed.
   */
  lapses?: number;
  /** Of `failures`, those where its consumer stopped while it ran (see the header). */
  crashes?: number;
}

interface InFlight<T> extends QueuedItem<T> {
  leaseUntil: number;
  /** Marked by `start`: an expired lease counts as a crash. */
  started?: boolean;
}

interface Delayed<T> extends QueuedItem<T> {
  dueAt: number;
}

/** An item that failed too often, with why. */
export interface DeadLetter<T> {
  item: QueuedItem<T>;
  /** The last failure's reason. */
  error: string;
  /** When it was dead-lettered (ms since the epoch). */
  failedAt: number;
  /** Anything the consumer wants to keep, e.g. the last execution's id. */
  ref?: string;
}

/** What a queue holds and has done. */
export interface QueueStats {
  /** Items waiting to be leased, including those waiting for a retry. */
  depth: number;
  /** Items leased and being handled. */
  inFlight: number;
  /** Of `depth`, the items waiting for a retry. */
  delayed: number;
  /** Dead letters. */
  dead: number;
  /** Items acknowledged since the queue was created. */
  processed: number;
  /** Age of the oldest item waiting or in flight; 0 when there is none. */
  oldestAgeMs: number;
}

type Counter = "in" | "out" | "acked" | "dead";
const U64 = 1n << 64n;
/** Checks of one atomic (the KV allows 100): a replay or purge checks each letter. */
const MAX_CHECKS = 100;

/** Bytes of one KV value, as the KV measures it (V8-serialized). */
const KV_MAX_VALUE = 65_536;
/**
 * The most bytes an item may take stored (as its codec stores it; see
 * `itemBytes`): a KV value holds 65,536, and the queue adds up to 256 to an
 * item as it moves (its lease, counts, due time).
 */
export const MAX_ITEM_BYTES = KV_MAX_VALUE - 256;
/** Ends a dead letter's error that was cut to fit. */
const CUT = " [cut to fit]";

/**
 * Timing of a {@linkcode DurableQueue}.
 *
 * @example
 * ```ts
 * const queue = new DurableQueue<Job>(kv, ["queue"], { leaseMs: 10_000 });
 * ```
 */
export interface DurableQueueOptions {
  /**
   * How long a lease lasts before the item is delivered again, unless the
   * consumer renews it, in ms: a consumer that dies loses its items for no
   * longer than that.
   *
   * @default {4000}
   */
  leaseMs?: number;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * Poll interval of the change feed, in ms (see `ChangeFeedOptions`).
   *
   * @default {500}
   */
  pollMs?: number;
  /**
   * How records are stored. Default `v8Records` (as they are); `jsonRecords`
   * for items whose values are JSON's. Either reads both forms.
   */
  codec?: RecordCodec;
}

export class DurableQueue<T> {
  readonly feed: ChangeFeed;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #codec: RecordCodec;
  /** Items parked under a NaN due time were looked for (see `promoteDue`). */
  #repaired = false;
  /**
   * Items leased here, each with the versionstamp of its queue's epoch when
   * its lease was known to be held (see "Leases" in the header).
   */
  readonly #held = new WeakMap<QueuedItem<T>, string | null>();
  /** The epoch read with each entry that `head` returned. */
  readonly #headEpochs = new WeakMap<object, string | null>();
  /**
   * The keys every append to a queue writes (its "in" counter and active
   * marker), made once per queue: a group commit recognizes the same key
   * arrays at once (see group_commit.ts).
   */
  #appendKeys = new Map<string, { in: Deno.KvKey; active: Deno.KvKey }>();
  /** The epochs each atomic operation checks already ("queue\0stamp"). */
  readonly #checked = new WeakMap<Deno.AtomicOperation, Set<string>>();

  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["queue"],
    options: DurableQueueOptions = {},
  ) {
    this.#leaseMs = options.leaseMs ?? 4_000;
    this.#now = options.now ?? Date.now;
    this.#codec = options.codec ?? v8Records;
    this.feed = new ChangeFeed(kv, [...prefix, "signal"], {
      pollMs: options.pollMs,
    });
  }

  #key(
    state: "ready" | "inflight" | "dead",
    queue: string,
    id: string,
  ): Deno.KvKey {
    return [...this.prefix, state, queue, id];
  }

  /** The KV value that stores a record. */
  #enc(record: unknown): unknown {
    return this.#codec.encode(record);
  }

  /** An entry read from the KV with its record decoded (key and versionstamp kept for checks). */
  #dec<R>(e: Deno.KvEntry<unknown>): Deno.KvEntry<R> {
    return {
      key: e.key,
      value: this.#codec.decode(e.value) as R,
      versionstamp: e.versionstamp,
    };
  }

  /** Entries of a list, decoded. */
  async *#list<R>(
    selector: Deno.KvListSelector,
    options?: Deno.KvListOptions,
  ): AsyncGenerator<Deno.KvEntry<R>> {
    for await (const e of this.kv.list(selector, options)) {
      yield this.#dec<R>(e);
    }
  }

  /** `getMany`, decoded. */
  async #getMany<R>(keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<R>[]> {
    return (await this.kv.getMany(keys)).map((e) =>
      e.versionstamp === null ? e as Deno.KvEntryMaybe<R> : this.#dec<R>(e)
    );
  }

  #count(queue: string, name: Counter): Deno.KvKey {
    return [...this.prefix, "count", queue, name];
  }

  #epoch(queue: string): Deno.KvKey {
    return [...this.prefix, "epoch", queue];
  }

  /** Adds the check that `item`'s lease is still held (its queue's epoch unchanged). */
  #checkLease(op: Deno.AtomicOperation, item: QueuedItem<T>): void {
    const stamp = this.#held.get(item);
    if (stamp === undefined) {
      throw new Error(
        `Item "${item.id}" of queue "${item.queue}" was not leased through this queue`,
      );
    }
    const checked = this.#checked.get(op) ??
      this.#checked.set(op, new Set()).get(op)!;
    const id = `${item.queue}\0${stamp}`;
    if (checked.has(id)) return;
    checked.add(id);
    op.check({ key: this.#epoch(item.queue), versionstamp: stamp });
  }

  /** Adds `n` (which may be negative) to a counter; KvU64 sums wrap. */
  #add(op: Deno.AtomicOperation, queue: string, name: Counter, n: number) {
    const v = BigInt(n);
    op.sum(this.#count(queue, name), v >= 0n ? v : U64 + v);
  }

  #active(op: Deno.AtomicOperation, queue: string): Deno.AtomicOperation {
    op.set([...this.prefix, "active", queue], this.#now());
    return this.feed.notify(op);
  }

  /** Adds the writes that append items to `queue` to an atomic operation. */
  append(
    op: Deno.AtomicOperation,
    queue: string,
    items: { id: string; value: T }[],
  ): Deno.AtomicOperation {
    const w = this.appendWrites(queue, items);
    w.write(op);
    for (const [key, n] of w.sums) op.sum(key, n);
    for (const [key, value] of w.sets) op.set(key, value);
    return op;
  }

  /**
   * The writes of `append`, split for a `GroupCommit` part: `write` adds
   * the items; `sums` and `sets` are the bookkeeping that appends share
   * (the queue's "in" counter and change signal, its active marker), which
   * a group commit writes once per key for all its parts.
   */
  appendWrites(
    queue: string,
    items: { id: string; value: T }[],
  ): {
    write: (op: Deno.AtomicOperation) => void;
    sums: [Deno.KvKey, bigint][];
    sets: [Deno.KvKey, unknown][];
  } {
    const enqueuedAt = this.#now();
    let k = this.#appendKeys.get(queue);
    if (!k) {
      if (this.#appendKeys.size >= 10_000) this.#appendKeys.clear();
      k = {
        in: this.#count(queue, "in"),
        active: [...this.prefix, "active", queue],
      };
      this.#appendKeys.set(queue, k);
    }
    return {
      write: (op) => {
        for (const { id, value } of items) {
          const item: QueuedItem<T> = {
            id,
            queue,
            value,
            attempt: 1,
            failures: 0,
            enqueuedAt,
          };
          op.set(this.#key("ready", queue, id), this.#enc(item));
        }
      },
      sums: [
        [k.in, BigInt(items.length)],
        [this.feed.key, 1n],
      ],
      sets: [[k.active, enqueuedAt]],
    };
  }

  /**
   * The bytes an item would take stored in `queue` (exactly with
   * `jsonRecords`, at most with `v8Records`: see `kvValueSize`); at most
   * MAX_ITEM_BYTES may be appended.
   */
  itemBytes(queue: string, item: { id: string; value: T }): number {
    const stored: QueuedItem<T> = {
      id: item.id,
      queue,
      value: item.value,
      attempt: 1,
      failures: 0,
      enqueuedAt: this.#now(),
    };
    return this.#codec.size(stored);
  }

  /**
   * Items appended and not yet acknowledged or dead-lettered: waiting,
   * delayed and in flight. One read of two counters.
   */
  async backlog(queue: string): Promise<number> {
    const [i, o] = await this.kv.getMany<Deno.KvU64[]>([
      this.#count(queue, "in"),
      this.#count(queue, "out"),
    ]);
    return Number(
      BigInt.asIntN(64, (i.value?.value ?? 0n) - (o.value?.value ?? 0n)),
    );
  }

  /**
   * Every queue that ever held an item under this prefix, in name order;
   * only those whose name starts with `startsWith` when it is given.
   */
  async queueNames(startsWith = ""): Promise<string[]> {
    const base = [...this.prefix, "count"];
    const selector: Deno.KvListSelector = startsWith === ""
      ? { prefix: base }
      // Every string that starts with `startsWith` sorts between it and its
      // last character raised by one.
      : {
        start: [...base, startsWith],
        end: [
          ...base,
          startsWith.slice(0, -1) +
          String.fromCharCode(startsWith.charCodeAt(startsWith.length - 1) + 1),
        ],
      };
    const names = new Set<string>();
    for await (const e of this.kv.list(selector)) {
      names.add(e.key[this.prefix.length + 1] as string);
    }
    return [...names];
  }

  /** The queues that may hold items. */
  async activeQueues(): Promise<string[]> {
    return [...(await this.activity()).keys()];
  }

  /**
   * The queues that may hold items, each with the versionstamp of its
   * active marker, which changes whenever items are appended to the queue
   * or put back in it.
   */
  async activity(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (
      const e of this.kv.list({ prefix: [...this.prefix, "active"] })
    ) {
      out.set(e.key[e.key.length - 1] as string, e.versionstamp);
    }
    return out;
  }

  /** Leases up to `max` items from the head of `queue`, in order. */
  async lease(queue: string, max: number): Promise<QueuedItem<T>[]> {
    for (let tries = 0; tries < 5; tries++) {
      const entries = await this.head(queue, max);
      if (entries.length === 0) return [];
      const op = this.kv.atomic();
      const items = this.leaseWrites(op, entries);
      if ((await op.commit()).ok) return items;
    }
    return [];
  }

  /**
   * The first `max` items waiting in `queue`, in order, as entries to lease
   * with `leaseWrites`.
   */
  async head(
    queue: string,
    max: number,
  ): Promise<Deno.KvEntry<QueuedItem<T>>[]> {
    // The epoch is read no later than the lease commits: if it is unchanged
    // when the item is acknowledged, no lease was taken back since.
    const [entries, epoch] = await Promise.all([
      Array.fromAsync(
        this.#list<QueuedItem<T>>({
          prefix: [...this.prefix, "ready", queue],
        }, { limit: max }),
      ),
      this.kv.get(this.#epoch(queue)),
    ]);
    for (const e of entries) this.#headEpochs.set(e, epoch.versionstamp);
    return entries;
  }

  /**
   * Adds the checks and writes that lease entries read with `head` to an
   * atomic operation (a check, a delete and a set each): when it commits,
   * the items are leased; it is refused when any of them was taken
   * meanwhile. Returns the items, which are acknowledged through this queue.
   */
  leaseWrites(
    op: Deno.AtomicOperation,
    entries: Deno.KvEntry<QueuedItem<T>>[],
  ): QueuedItem<T>[] {
    const leaseUntil = this.#now() + this.#leaseMs;
    for (const e of entries) {
      const epoch = this.#headEpochs.get(e);
      if (epoch === undefined) {
        throw new Error(
          `Item "${e.value.id}" of queue "${e.value.queue}" was not read with head()`,
        );
      }
      op.check(e).delete(e.key);
      const inflight: InFlight<T> = { ...e.value, leaseUntil };
      op.set(
        this.#key("inflight", e.value.queue, e.value.id),
        this.#enc(inflight),
      );
      this.#held.set(e.value, epoch);
    }
    return entries.map((e) => e.value);
  }

  /** How records are stored (see `DurableQueueOptions.codec`). */
  get codec(): RecordCodec {
    return this.#codec;
  }

  /** How long a lease lasts. */
  get leaseMs(): number {
    return this.#leaseMs;
  }

  /**
   * Extends the leases of items still held. Items acknowledged meanwhile are
   * skipped; an item whose lease already passed to another consumer is not
   * taken back. Returns how many leases were extended.
   */
  async renew(items: QueuedItem<T>[]): Promise<number> {
    const leaseUntil = this.#now() + this.#leaseMs;
    let renewed = 0;
    for (let i = 0; i < items.length; i += 100) {
      // Refused when one of the entries changed between the read and the
      // commit (`start` marked it): read again.
      for (let tries = 0; tries < 5; tries++) {
        const op = this.kv.atomic();
        let n = 0;
        for (const [, e] of await this.#ownLeases(items.slice(i, i + 100))) {
          op.check(e).set(e.key, this.#enc({ ...e.value, leaseUntil }));
          n++;
        }
        if (n === 0) break;
        if ((await op.commit()).ok) {
          renewed += n;
          break;
        }
      }
    }
    return renewed;
  }

  /**
   * Hands leased items back, unhandled, to their place at the head of their
   * queue, at once and with `attempt` unchanged (a consumer that stops
   * gives back what it leased and did not run). Items whose lease is no
   * longer ours are skipped. Returns how many went back.
   */
  async release(items: QueuedItem<T>[]): Promise<number> {
    let released = 0;
    for (let i = 0; i < items.length; i += 100) {
      const op = this.kv.atomic();
      const queues = new Set<string>();
      let n = 0;
      for (const [, e] of await this.#ownLeases(items.slice(i, i + 100))) {
        const { leaseUntil: _, started: _s, ...item } = e.value;
        op.check(e).delete(e.key)
          .set(this.#key("ready", item.queue, item.id), this.#enc(item));
        queues.add(item.queue);
        n++;
      }
      if (n === 0) continue;
      for (const q of queues) this.#active(op, q);
      if ((await op.commit()).ok) released += n;
    }
    return released;
  }

  /**
   * The items whose lease is still theirs, with their in-flight entries
   * (the attempt changes when an expired item is delivered again).
   */
  async #ownLeases(
    items: QueuedItem<T>[],
  ): Promise<[QueuedItem<T>, Deno.KvEntry<InFlight<T>>][]> {
    // A read names at most 10 keys.
    const reads: Promise<Deno.KvEntryMaybe<InFlight<T>>[]>[] = [];
    for (let i = 0; i < items.length; i += 10) {
      reads.push(this.#getMany<InFlight<T>>(
        items.slice(i, i + 10).map((it) =>
          this.#key("inflight", it.queue, it.id)
        ),
      ));
    }
    const entries = (await Promise.all(reads)).flat();
    const own: [QueuedItem<T>, Deno.KvEntry<InFlight<T>>][] = [];
    entries.forEach((e, i) => {
      if (e.value !== null && e.value.attempt === items[i].attempt) {
        own.push([items[i], e as Deno.KvEntry<InFlight<T>>]);
      }
    });
    return own;
  }

  /**
   * After a commit that acknowledged leased items was refused: which of
   * them are no longer leased here. Reads each queue's epoch, then the
   * items' in-flight entries; the items still held are held under that
   * epoch from now on (their next acknowledgement checks it), and the
   * others are returned: their lease was taken back and they were (or will
   * be) delivered again, so what was done with them must not be recorded.
   */
  async confirm(items: QueuedItem<T>[]): Promise<QueuedItem<T>[]> {
    const queues = [...new Set(items.map((it) => it.queue))];
    const epochs = new Map(
      await Promise.all(
        queues.map(async (q) =>
          [q, (await this.kv.get(this.#epoch(q))).versionstamp] as const
        ),
      ),
    );
    const own = new Set<QueuedItem<T>>();
    for (let i = 0; i < items.length; i += 100) {
      for (const [it] of await this.#ownLeases(items.slice(i, i + 100))) {
        own.add(it);
      }
    }
    const lost: QueuedItem<T>[] = [];
    for (const it of items) {
      if (own.has(it)) this.#held.set(it, epochs.get(it.queue)!);
      else {
        this.#held.delete(it);
        lost.push(it);
      }
    }
    return lost;
  }

  /**
   * Marks a leased item as started: from now on, if its lease expires, its
   * consumer stopped while it ran, which counts as a failure (see "Crash
   * loops" in the header). Costs a commit: meant for items that lapsed or
   * crashed before. Returns false when the lease is no longer held (the
   * item must not be run).
   */
  async start(item: QueuedItem<T>): Promise<boolean> {
    // A renewal may change the entry between the read and the write.
    for (let tries = 0; tries < 5; tries++) {
      const [own] = await this.#ownLeases([item]);
      if (!own) return false;
      const [, e] = own;
      const res = await this.kv.atomic().check(e)
        .set(e.key, this.#enc({ ...e.value, started: true })).commit();
      if (res.ok) return true;
    }
    return false;
  }

  /** Adds the write that acknowledges a leased item to an atomic operation. */
  ack(op: Deno.AtomicOperation, item: QueuedItem<T>): Deno.AtomicOperation {
    return this.ackAll(op, [item]);
  }

  /**
   * Adds the writes that acknowledge leased items to an atomic operation:
   * a delete each, and each queue's counters bumped once.
   */
  ackAll(
    op: Deno.AtomicOperation,
    items: QueuedItem<T>[],
  ): Deno.AtomicOperation {
    const perQueue = new Map<string, number>();
    for (const item of items) {
      this.#checkLease(op, item);
      op.delete(this.#key("inflight", item.queue, item.id));
      perQueue.set(item.queue, (perQueue.get(item.queue) ?? 0) + 1);
    }
    for (const [queue, n] of perQueue) {
      this.#add(op, queue, "out", n);
      this.#add(op, queue, "acked", n);
    }
    return op;
  }

  /**
   * Adds the write that drops a leased item unhandled (its queue is going
   * away): its in-flight record goes, and no counter is touched, so a queue
   * whose counters were removed does not get them back.
   */
  discard(op: Deno.AtomicOperation, item: QueuedItem<T>): Deno.AtomicOperation {
    return op.delete(this.#key("inflight", item.queue, item.id));
  }

  /**
   * Adds the writes that hand a leased item back for another try after
   * `delayMs`, with `attempt` and `failures` raised (and its lapses
   * forgotten: it ran to an outcome). When it is due (`promoteDue`) it goes
   * back to its place in the queue.
   */
  retry(
    op: Deno.AtomicOperation,
    item: QueuedItem<T>,
    delayMs: number,
  ): Deno.AtomicOperation {
    // A NaN due time sorts after every number: the item would never be due.
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(
        `Invalid retry delay ${delayMs} ms for item "${item.id}" of queue "${item.queue}": use a finite number of 0 or more`,
      );
    }
    const dueAt = this.#now() + delayMs;
    const { lapses: _, ...rest } = item;
    const delayed: Delayed<T> = {
      ...rest,
      attempt: item.attempt + 1,
      failures: (item.failures ?? 0) + 1,
      dueAt,
    };
    this.#checkLease(op, item);
    op.delete(this.#key("inflight", item.queue, item.id));
    return op.set(
      [...this.prefix, "delayed", dueAt, item.queue, item.id],
      this.#enc(delayed),
    );
  }

  /**
   * Puts delayed items that are due back in their queues. The first call
   * also puts back items that an earlier version stored with a NaN due time
   * (it sorts after every number, so they were never due).
   */
  async promoteDue(): Promise<number> {
    let moved = 0;
    const due = this.#list<Delayed<T>>({
      start: [...this.prefix, "delayed"],
      end: [...this.prefix, "delayed", this.#now() + 1],
    });
    const lost = this.#repaired ? [] : this.#list<Delayed<T>>({
      prefix: [...this.prefix, "delayed", NaN],
    });
    this.#repaired = true;
    for (const iter of [due, lost]) {
      for await (const e of iter) {
        const { dueAt: _, ...item } = e.value;
        const op = this.kv.atomic().check(e).delete(e.key)
          .delete([...this.prefix, "due", item.queue, item.id])
          .set(this.#key("ready", item.queue, item.id), this.#enc(item));
        if ((await this.#active(op, item.queue).commit()).ok) moved++;
      }
    }
    return moved;
  }

  /**
   * Adds the writes that move a leased item to its queue's dead letters.
   * `ref` is kept with it (e.g. the last execution's id). A letter that
   * would not fit one KV value (an item near the largest beside a long
   * error) keeps as much of the error as fits.
   */
  deadLetter(
    op: Deno.AtomicOperation,
    item: QueuedItem<T>,
    error: string,
    ref?: string,
  ): Deno.AtomicOperation {
    const letter: DeadLetter<T> = {
      item: { ...item, failures: (item.failures ?? 0) + 1 },
      error,
      failedAt: this.#now(),
      ...(ref !== undefined && { ref }),
    };
    // The bound first (cheap); the exact size only for a letter near the limit.
    const codec = this.#codec;
    let over = codec.size(letter) <= KV_MAX_VALUE
      ? 0
      : codec.exactSize(letter) - KV_MAX_VALUE;
    for (let kept = error; over > 0 && kept !== "";) {
      const each = codec.charBytes(letter.error);
      kept = kept.slice(0, Math.max(0, kept.length - Math.ceil(over / each)));
      letter.error = kept + CUT;
      over = codec.exactSize(letter) - KV_MAX_VALUE;
    }
    this.#checkLease(op, item);
    op.delete(this.#key("inflight", item.queue, item.id));
    op.set(this.#key("dead", item.queue, item.id), this.#enc(letter));
    this.#add(op, item.queue, "out", 1);
    this.#add(op, item.queue, "dead", 1);
    return op;
  }

  /** A page of a queue's dead letters, oldest item first. */
  async listDead(
    queue: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ letters: DeadLetter<T>[]; cursor: string | null }> {
    const limit = options.limit ?? 100;
    const iter = this.kv.list(
      { prefix: [...this.prefix, "dead", queue] },
      { limit, cursor: options.cursor },
    );
    const letters: DeadLetter<T>[] = [];
    for await (const e of iter) {
      letters.push(this.#codec.decode(e.value) as DeadLetter<T>);
    }
    return {
      letters,
      cursor: letters.length === limit && iter.cursor ? iter.cursor : null,
    };
  }

  /**
   * Puts dead letters back at their place in the queue with their failures
   * reset: all of them, or those whose ids are given. Returns the ids
   * replayed (ids that are not dead letters are skipped).
   */
  async replayDead(queue: string, ids?: string[]): Promise<string[]> {
    const replayed: string[] = [];
    const letters = ids
      ? (await this.#getDead(queue, ids))
      : this.#list<DeadLetter<T>>({
        prefix: [...this.prefix, "dead", queue],
      });
    let op = this.kv.atomic();
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      this.#add(op, queue, "in", batch.length);
      this.#add(op, queue, "dead", -batch.length);
      if ((await this.#active(op, queue).commit()).ok) replayed.push(...batch);
      op = this.kv.atomic();
      batch = [];
    };
    for await (const e of letters) {
      const { lapses: _, crashes: _c, ...was } = e.value.item;
      const item: QueuedItem<T> = {
        ...was,
        attempt: was.attempt + 1,
        failures: 0,
      };
      op.check(e).delete(e.key).set(
        this.#key("ready", queue, item.id),
        this.#enc(item),
      );
      batch.push(item.id);
      if (batch.length >= MAX_CHECKS) await flush();
    }
    await flush();
    return replayed;
  }

  /**
   * Deletes a queue's dead letters (all, or those whose ids are given);
   * returns how many. `also` adds writes to each atomic that deletes some
   * (e.g. counters of what the items referred to).
   */
  async purgeDead(
    queue: string,
    ids?: string[],
    also?: (op: Deno.AtomicOperation, items: QueuedItem<T>[]) => void,
  ): Promise<number> {
    const letters = ids
      ? (await this.#getDead(queue, ids))
      : this.#list<DeadLetter<T>>({
        prefix: [...this.prefix, "dead", queue],
      });
    let purged = 0;
    let op = this.kv.atomic();
    let items: QueuedItem<T>[] = [];
    const flush = async () => {
      const n = items.length;
      if (n === 0) return;
      this.#add(op, queue, "dead", -n);
      also?.(op, items);
      if ((await op.commit()).ok) purged += n;
      op = this.kv.atomic();
      items = [];
    };
    for await (const e of letters) {
      op.check(e).delete(e.key);
      items.push(e.value.item);
      if (items.length >= MAX_CHECKS) await flush();
    }
    await flush();
    return purged;
  }

  async #getDead(
    queue: string,
    ids: string[],
  ): Promise<Deno.KvEntry<DeadLetter<T>>[]> {
    // Each id once: a letter taken twice in one batch would be counted twice.
    const unique = [...new Set(ids)];
    const out: Deno.KvEntry<DeadLetter<T>>[] = [];
    for (let i = 0; i < unique.length; i += 10) {
      const got = await this.#getMany<DeadLetter<T>>(
        unique.slice(i, i + 10).map((id) => this.#key("dead", queue, id)),
      );
      for (const e of got) {
        if (e.value) out.push(e as Deno.KvEntry<DeadLetter<T>>);
      }
    }
    return out;
  }

  /**
   * Drops the queue's active marker when it holds nothing, unless an append
   * raced with the check. Returns true when the marker was dropped.
   */
  async retireIfEmpty(queue: string): Promise<boolean> {
    const marker = await this.kv.get([...this.prefix, "active", queue]);
    for (const state of ["ready", "inflight"] as const) {
      const any = await Array.fromAsync(
        this.kv.list({ prefix: [...this.prefix, state, queue] }, { limit: 1 }),
      );
      if (any.length > 0) return false;
    }
    const res = await this.kv.atomic().check(marker).delete(marker.key)
      .commit();
    return res.ok;
  }

  /**
   * Removes a queue and all it holds: waiting, in flight, delayed and dead
   * items and its counters. Returns how many entries went.
   */
  async drop(queue: string): Promise<number> {
    const at = this.prefix.length;
    const delayed = await deletePrefixes(
      this.kv,
      [[...this.prefix, "delayed"]],
      (k) => k[at + 2] !== queue,
    );
    return delayed + await deletePrefixes(
      this.kv,
      // The epoch goes too: a consumer still holding an item of the queue
      // finds its lease gone when it acknowledges.
      ([
        "ready",
        "inflight",
        "dead",
        "count",
        "active",
        "epoch",
        "due",
      ] as const)
        .map((state) => [...this.prefix, state, queue]),
    );
  }

  /**
   * Puts items whose lease expired back in the ready list, attempt raised,
   * and moves their queue's epoch (the consumer that held them can no
   * longer acknowledge them). An item marked started counts a crash, a
   * failure, with the lapse before it if there was one; any other counts a
   * lapse (see "Crash loops" in the header).
   */
  async recoverExpired(): Promise<number> {
    const now = this.#now();
    const expired = new Map<string, Deno.KvEntry<InFlight<T>>[]>();
    for await (
      const e of this.#list<InFlight<T>>({
        prefix: [...this.prefix, "inflight"],
      })
    ) {
      if (e.value.leaseUntil > now) continue;
      const list = expired.get(e.value.queue) ??
        expired.set(e.value.queue, []).get(e.value.queue)!;
      list.push(e);
    }
    // A queue's items go back together, in atomics of up to 50 (each moves
    // the epoch once, which makes the holders of its other items confirm
    // their leases once); one by one when an atomic is refused (an item was
    // renewed or acknowledged meanwhile) or too large (large items).
    let moved = 0;
    for (const [queue, entries] of expired) {
      for (let i = 0; i < entries.length; i += 50) {
        const chunk = entries.slice(i, i + 50);
        const together = chunk.length > 1
          ? await this.#putBack(queue, chunk, now).catch(() => false)
          : false;
        if (together) moved += chunk.length;
        else {
          for (const e of chunk) {
            if (await this.#putBack(queue, [e], now)) moved++;
          }
        }
      }
    }
    return moved;
  }

  /** Puts expired in-flight entries of a queue back (see `recoverExpired`). */
  async #putBack(
    queue: string,
    entries: Deno.KvEntry<InFlight<T>>[],
    now: number,
  ): Promise<boolean> {
    const op = this.kv.atomic();
    for (const e of entries) {
      const { leaseUntil: _, started, ...item } = e.value;
      const lapses = item.lapses ?? 0;
      const charged = 1 + Math.min(lapses, 1);
      const back: QueuedItem<T> = started
        ? {
          ...item,
          attempt: item.attempt + 1,
          failures: (item.failures ?? 0) + charged,
          crashes: (item.crashes ?? 0) + charged,
          lapses: 0,
        }
        : { ...item, attempt: item.attempt + 1, lapses: lapses + 1 };
      op.check(e).delete(e.key).set(
        this.#key("ready", queue, item.id),
        this.#enc(back),
      );
    }
    op.set(this.#epoch(queue), now);
    return (await this.#active(op, queue).commit()).ok;
  }

  /**
   * The writes of appending items that wait until `dueAt` (ms since the
   * epoch) before they join their queue, in the order of their ids like
   * any item (see `appendWrites` for the parts). Each item takes two
   * writes: its delayed record and the index that finds it by id. They
   * count in the queue's backlog from now on.
   */
  appendDelayedWrites(
    queue: string,
    items: { id: string; value: T }[],
    dueAt: number,
  ): {
    write: (op: Deno.AtomicOperation) => void;
    sums: [Deno.KvKey, bigint][];
    sets: [Deno.KvKey, unknown][];
  } {
    if (!Number.isFinite(dueAt)) {
      throw new RangeError(
        `Invalid due time ${dueAt} for items of queue "${queue}": use a finite number of ms since the epoch`,
      );
    }
    const enqueuedAt = this.#now();
    return {
      write: (op) => {
        for (const { id, value } of items) {
          const item: Delayed<T> = {
            id,
            queue,
            value,
            attempt: 1,
            failures: 0,
            enqueuedAt,
            dueAt,
          };
          op.set(
            [...this.prefix, "delayed", dueAt, queue, id],
            this.#enc(item),
          );
          op.set([...this.prefix, "due", queue, id], dueAt);
        }
      },
      sums: [[this.#count(queue, "in"), BigInt(items.length)]],
      sets: [],
    };
  }

  /**
   * Removes an item that waits in `queue` (ready, or appended delayed) so
   * that it never runs; `also` adds writes to the same atomic (e.g.
   * counters of what the item referred to). An item in flight is not
   * touched (`running`); one that is gone (done, or never there) is
   * `missing`, and so is one that `match` refuses (left alone). Items
   * waiting for a retry are not found by id: they ran.
   */
  async cancel(
    queue: string,
    id: string,
    also?: (op: Deno.AtomicOperation, item: QueuedItem<T>) => void,
    match: (item: QueuedItem<T>) => boolean = () => true,
  ): Promise<
    | { state: "waiting" | "delayed"; item: QueuedItem<T>; dueAt?: number }
    | { state: "running" | "missing" }
  > {
    const dueKey = [...this.prefix, "due", queue, id];
    for (let tries = 0; tries < 5; tries++) {
      const [ready, due, inflight] = await this.kv.getMany<unknown[]>([
        this.#key("ready", queue, id),
        dueKey,
        this.#key("inflight", queue, id),
      ]);
      const op = this.kv.atomic();
      let found:
        | { state: "waiting" | "delayed"; item: QueuedItem<T>; dueAt?: number }
        | undefined;
      if (ready.versionstamp !== null) {
        const item = this.#dec<QueuedItem<T>>(ready as Deno.KvEntry<unknown>)
          .value;
        op.check(ready).delete(ready.key);
        found = { state: "waiting", item };
      } else if (typeof due.value === "number") {
        const delayed = await this.kv.get(
          [...this.prefix, "delayed", due.value, queue, id],
        );
        if (delayed.versionstamp === null) continue; // promoted meanwhile
        const { dueAt, ...item } = this.#dec<Delayed<T>>(
          delayed as Deno.KvEntry<unknown>,
        ).value;
        op.check(due).check(delayed).delete(due.key).delete(delayed.key);
        found = { state: "delayed", item, dueAt };
      } else if (inflight.versionstamp !== null) return { state: "running" };
      else return { state: "missing" };
      if (!match(found.item)) return { state: "missing" };
      this.#add(op, queue, "out", 1);
      also?.(op, found.item);
      if ((await op.commit()).ok) return found;
    }
    return { state: "running" };
  }

  /**
   * A page of the items appended delayed to `queue` and not yet due (nor
   * cancelled), by id: each with when it is due.
   */
  async listDelayed(
    queue: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{
    items: { item: QueuedItem<T>; dueAt: number }[];
    cursor: string | null;
  }> {
    const limit = options.limit ?? 100;
    const iter = this.kv.list<number>(
      { prefix: [...this.prefix, "due", queue] },
      { limit, cursor: options.cursor },
    );
    const index = await Array.fromAsync(iter);
    const items: { item: QueuedItem<T>; dueAt: number }[] = [];
    for (let i = 0; i < index.length; i += 10) {
      const got = await this.#getMany<Delayed<T>>(
        index.slice(i, i + 10).map((e) => [
          ...this.prefix,
          "delayed",
          e.value,
          queue,
          e.key[e.key.length - 1],
        ]),
      );
      for (const e of got) {
        // Promoted between the two reads: not delayed any more.
        if (e.value === null) continue;
        const { dueAt, ...item } = e.value;
        items.push({ item, dueAt });
      }
    }
    return {
      items,
      cursor: index.length === limit && iter.cursor ? iter.cursor : null,
    };
  }

  /** What a queue holds and has done (see `QueueStats`). */
  async stats(queue: string): Promise<QueueStats> {
    const now = this.#now();
    const [backlog, counters, inflight, delayed, first] = await Promise.all([
      this.backlog(queue),
      this.kv.getMany<Deno.KvU64[]>([
        this.#count(queue, "acked"),
        this.#count(queue, "dead"),
      ]),
      Array.fromAsync(
        this.#list<InFlight<T>>({
          prefix: [...this.prefix, "inflight", queue],
        }),
      ),
      Array.fromAsync(
        this.#list<Delayed<T>>({ prefix: [...this.prefix, "delayed"] }),
      ),
      Array.fromAsync(
        this.#list<QueuedItem<T>>({
          prefix: [...this.prefix, "ready", queue],
        }, { limit: 1 }),
      ),
    ]);
    const count = (e: Deno.KvEntryMaybe<Deno.KvU64>) =>
      Number(BigInt.asIntN(64, e.value?.value ?? 0n));
    const mine = delayed.filter((e) => e.value.queue === queue);
    const oldest = Math.min(
      ...inflight.map((e) => e.value.enqueuedAt),
      ...mine.map((e) => e.value.enqueuedAt),
      ...first.map((e) => e.value.enqueuedAt),
      now,
    );
    const inFlight = inflight.length;
    return {
      depth: Math.max(0, backlog - inFlight),
      inFlight,
      delayed: mine.length,
      dead: count(counters[1]),
      processed: count(counters[0]),
      oldestAgeMs: now - oldest,
    };
  }
}
