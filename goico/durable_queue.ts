/**
 * Durable FIFO queues made of ordered KV records.
 *
 * `kv.enqueue` delivers out of order, re-delivers only ~60 s after a crash
 * and does not exist on remote KV, so every item is a record: waiting in
 * its queue's ready list (in the band of its priority, see
 * queue_priority.ts), in flight with a lease, delayed, or a dead letter,
 * beside each queue's counters, active marker and epoch (the key layout:
 * queue_keys.ts).
 *
 * Ids must sort in the order items are accepted (see `monotonicId`). Items
 * are appended inside the caller's write (a `WriteBatch`), so an item
 * exists exactly when the write that accepted it committed. A consumer leases items (ready ->
 * inflight), handles them, and acknowledges each inside the atomic that
 * records its outcome; that atomic commits only while the lease is still
 * held (see "Leases" below). Leases that expire (the consumer died or
 * stalled) are put back in order with `attempt` raised (queue_recovery.ts).
 * A failed item can be retried later (`retry`, it keeps its place at the
 * head of the queue when it is due; delayed items: queue_delayed.ts) or
 * moved to the queue's dead letters (`deadLetter`), from where it can be
 * replayed or purged (dead_letters.ts). The counters make `backlog` one
 * read, so a producer can refuse work before a queue grows without bound.
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
 * holds them under the new epoch) and which were taken back (see
 * queue_leases.ts).
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
 * queue reads records of either form (queue_records.ts).
 *
 * Every write goes through a `WriteBatch`, measured: writes about many
 * items (leases, renewals, replays) are packed into as few atomics as fit,
 * and an item whose record would not leave room to grow within one KV
 * value (MAX_ITEM_BYTES) is refused when it is appended.
 *
 * A queue dropped while a consumer holds its items: the epoch goes with
 * it, so a consumer that took its leases before the epoch first existed
 * still commits (the caller sweeps again after a lease, see
 * components/tenants/delete_tenant.ts).
 */

import { ChangeFeed } from "./change_feed.ts";
import { type DeadLetter, DeadLetters } from "./dead_letters.ts";
import { QueueCatalog, type QueueStats } from "./queue_catalog.ts";
import { type DelayedEntry, DelayedItems } from "./queue_delayed.ts";
import {
  type Gate,
  type GateCount,
  type GatedPick,
  type GateHold,
  pickGated,
  readGates,
} from "./queue_gates.ts";
import { QueueKeys } from "./queue_keys.ts";
import { QueueLedger } from "./queue_ledger.ts";
import { QueueLeases } from "./queue_leases.ts";
import { DEFAULT_AGING_MS, type Priority } from "./queue_priority.ts";
import {
  type Delayed,
  MAX_ITEM_BYTES,
  type QueuedItem,
  QueueRecords,
} from "./queue_records.ts";
import { QueueRecovery } from "./queue_recovery.ts";
import { type RecordCodec, v8Records } from "./record_codec.ts";
import { KvLimitError, WriteBatch } from "./write_batch.ts";

export type { DeadLetter } from "./dead_letters.ts";
export type { DelayedEntry } from "./queue_delayed.ts";
export type { QueueStats } from "./queue_catalog.ts";
export type { QueuedItem } from "./queue_records.ts";
export { MAX_ITEM_BYTES } from "./queue_records.ts";

/**
 * Timing of a {@linkcode DurableQueue}.
 *
 * @example
 * ```ts
 * const queue = new DurableQueue<Job>(kv, ["queue"], { leaseMs: 10_000 });
 * ```
 */
export interface DurableQueueOptions<T = unknown> {
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
  /**
   * An item's priority, from its value (see queue_priority.ts): items of a
   * higher one are leased first. Read whenever the item is put in its
   * queue, so it must not change while the item is queued.
   *
   * @default {() => "normal"}
   */
  priorityOf?: (value: T) => Priority | undefined;
  /**
   * How long an item waits ready before its priority rises by one level,
   * in ms (the no-starvation bound, see queue_priority.ts).
   *
   * @default {DEFAULT_AGING_MS}
   */
  agingMs?: number;
}

/**
 * The queues under one prefix of a KV store (see the header). It appends
 * items, acknowledges and retries them itself, and hands the rest to its
 * parts, each given only what it needs: the key layout (`QueueKeys`), the
 * records' codec (`QueueRecords`), the bookkeeping writes (`QueueLedger`),
 * the leases (`QueueLeases`), their recovery (`QueueRecovery`), the delayed
 * items (`DelayedItems`), the dead letters (`DeadLetters`), and the
 * queues' listing, stats and removal (`QueueCatalog`).
 */
export class DurableQueue<T> {
  readonly feed: ChangeFeed;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #keys: QueueKeys<T>;
  readonly #records: QueueRecords;
  readonly #ledger: QueueLedger<T>;
  readonly #leases: QueueLeases<T>;
  readonly #recovery: QueueRecovery<T>;
  readonly #delayed: DelayedItems<T>;
  readonly #dead: DeadLetters<T>;
  readonly #catalog: QueueCatalog<T>;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["queue"],
    options: DurableQueueOptions<T> = {},
  ) {
    this.#leaseMs = options.leaseMs ?? 4_000;
    const now = this.#now = options.now ?? Date.now;
    const agingMs = options.agingMs ?? DEFAULT_AGING_MS;
    if (!Number.isFinite(agingMs) || agingMs <= 0) {
      throw new RangeError(
        `Invalid agingMs ${agingMs}: use a number of ms above 0`,
      );
    }
    this.feed = new ChangeFeed(kv, [...prefix, "signal"], {
      pollMs: options.pollMs,
    });
    // The parts, each given what it needs (see the class's doc).
    const keys = new QueueKeys<T>(this.prefix, options.priorityOf);
    const records = new QueueRecords(kv, options.codec ?? v8Records);
    const ledger = new QueueLedger<T>(keys, this.feed, now);
    const timing = { now, leaseMs: this.#leaseMs, agingMs };
    const leases = new QueueLeases<T>(kv, keys, records, ledger, timing);
    const delayed = new DelayedItems<T>(kv, keys, records, ledger, now);
    const dead = new DeadLetters<T>(kv, keys, records, ledger, leases, now);
    const catalog = new QueueCatalog<T>(
      kv,
      keys,
      records,
      ledger,
      delayed,
      now,
    );
    this.#keys = keys;
    this.#records = records;
    this.#ledger = ledger;
    this.#leases = leases;
    this.#recovery = new QueueRecovery<T>(kv, keys, records, ledger, now);
    this.#delayed = delayed;
    this.#dead = dead;
    this.#catalog = catalog;
  }

  /** The key of a concurrency gate's counter (see queue_gates.ts). */
  gateKey(name: string): Deno.KvKey {
    return this.#keys.gate(name);
  }

  /** How many hold each gate now (see queue_gates.ts). */
  gateCounts(names: Iterable<string>): Promise<Map<string, GateCount>> {
    return readGates(this.kv, (n) => this.gateKey(n), names);
  }

  /**
   * Of entries read with `head`, those that may be leased under their
   * gates, at most `max`, in order (see `pickGated`); lease them with
   * `leaseInto(batch, pick.take, pick.holds)`.
   */
  pickGated(
    entries: Deno.KvEntry<QueuedItem<T>>[],
    gatesOf: (item: QueuedItem<T>) => readonly Gate[],
    max: number,
  ): Promise<GatedPick<T>> {
    return pickGated(this.kv, (n) => this.gateKey(n), entries, gatesOf, max);
  }

  /**
   * Adds the writes that append items to `queue` to a batch: the queue's
   * "in" counter, change signal and active marker (written once per batch
   * however many appends it holds), then a record per item.
   *
   * @throws {KvLimitError} when an item's record would take more than
   * MAX_ITEM_BYTES, or does not fit the batch beside what it holds; its
   * `index` is the item's (the batch then holds the items before it)
   */
  append(
    batch: WriteBatch,
    queue: string,
    items: { id: string; value: T }[],
  ): WriteBatch {
    const enqueuedAt = this.#now();
    this.#ledger.add(batch, queue, "in", items.length);
    this.#ledger.active(batch, queue, enqueuedAt);
    for (let i = 0; i < items.length; i++) {
      const { id, value } = items[i];
      const item: QueuedItem<T> = {
        id,
        queue,
        value,
        attempt: 1,
        failures: 0,
        enqueuedAt,
      };
      try {
        batch.set(
          this.#keys.ready(queue, id, value),
          this.#records.enc(item),
          { maxBytes: MAX_ITEM_BYTES },
        );
      } catch (err) {
        throw err instanceof KvLimitError ? err.at(i, "Item") : err;
      }
    }
    return batch;
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
    return this.#records.codec.size(stored);
  }

  /**
   * Items appended and not yet acknowledged or dead-lettered: waiting,
   * delayed and in flight. One read of two counters.
   */
  backlog(queue: string): Promise<number> {
    return this.#catalog.backlog(queue);
  }

  /**
   * Every queue that ever held an item under this prefix, in name order;
   * only those whose name starts with `startsWith` when it is given.
   */
  queueNames(startsWith = ""): Promise<string[]> {
    return this.#catalog.queueNames(startsWith);
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
  activity(): Promise<Map<string, string>> {
    return this.#catalog.activity();
  }

  /**
   * Leases up to `max` items from the head of `queue`, in order: highest
   * priority first (see queue_priority.ts), first in first out within one.
   */
  async lease(queue: string, max: number): Promise<QueuedItem<T>[]> {
    for (let tries = 0; tries < 5; tries++) {
      const entries = await this.head(queue, max);
      if (entries.length === 0) return [];
      const batch = new WriteBatch(this.kv);
      const items = this.leaseInto(batch, entries);
      if ((await batch.commit()).ok) return items;
    }
    return [];
  }

  /**
   * The first `max` items waiting in `queue`, in order, as entries to lease
   * with `leaseInto`.
   */
  head(queue: string, max: number): Promise<Deno.KvEntry<QueuedItem<T>>[]> {
    return this.#leases.head(queue, max);
  }

  /**
   * Adds to a batch the checks and writes that lease entries read with
   * `head` (a check, a delete and a set each), from the first, as many as
   * fit beside what the batch holds: when it commits, those items are
   * leased; it is refused when any of them was taken meanwhile. Returns
   * them, in order; they are acknowledged through this queue.
   */
  leaseInto(
    batch: WriteBatch,
    entries: Deno.KvEntry<QueuedItem<T>>[],
    holds?: Map<Deno.KvEntry<QueuedItem<T>>, GateHold>,
  ): QueuedItem<T>[] {
    return this.#leases.leaseInto(batch, entries, holds);
  }

  /** How records are stored (see `DurableQueueOptions.codec`). */
  get codec(): RecordCodec {
    return this.#records.codec;
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
  renew(items: QueuedItem<T>[]): Promise<number> {
    return this.#leases.renew(items);
  }

  /**
   * Hands leased items back, unhandled, to their place at the head of their
   * queue, at once and with `attempt` unchanged (a consumer that stops
   * gives back what it leased and did not run). Items whose lease is no
   * longer ours are skipped. Returns how many went back.
   */
  release(items: QueuedItem<T>[]): Promise<number> {
    return this.#leases.release(items);
  }

  /**
   * After a commit that acknowledged leased items was refused: which of
   * them are no longer leased here. Reads each queue's epoch, then the
   * items' in-flight entries; the items still held are held under that
   * epoch from now on (their next acknowledgement checks it), and the
   * others are returned: their lease was taken back and they were (or will
   * be) delivered again, so what was done with them must not be recorded.
   */
  confirm(items: QueuedItem<T>[]): Promise<QueuedItem<T>[]> {
    return this.#leases.confirm(items);
  }

  /**
   * Marks a leased item as started: from now on, if its lease expires, its
   * consumer stopped while it ran, which counts as a failure (see "Crash
   * loops" in the header). Costs a commit: meant for items that lapsed or
   * crashed before. Returns false when the lease is no longer held (the
   * item must not be run).
   */
  start(item: QueuedItem<T>): Promise<boolean> {
    return this.#leases.start(item);
  }

  /**
   * Adds the writes that acknowledge a leased item to a batch: the check of
   * its lease, a delete, and its queue's counters (summed once per batch).
   */
  ack(batch: WriteBatch, item: QueuedItem<T>): WriteBatch {
    this.#leases.check(batch, item);
    batch.delete(this.#keys.inflight(item.queue, item.id));
    this.#ledger.ungate(batch, item);
    this.#ledger.add(batch, item.queue, "out", 1);
    this.#ledger.add(batch, item.queue, "acked", 1);
    return batch;
  }

  /** Adds the writes that acknowledge leased items to a batch (see `ack`). */
  ackAll(batch: WriteBatch, items: QueuedItem<T>[]): WriteBatch {
    for (const item of items) this.ack(batch, item);
    return batch;
  }

  /**
   * Adds the write that drops a leased item unhandled (its queue is going
   * away): its in-flight record goes, and no counter is touched, so a queue
   * whose counters were removed does not get them back.
   */
  discard(batch: WriteBatch, item: QueuedItem<T>): WriteBatch {
    this.#ledger.ungate(batch, item);
    return batch.delete(this.#keys.inflight(item.queue, item.id));
  }

  /**
   * Adds the writes that hand a leased item back for another try after
   * `delayMs`, with `attempt` and `failures` raised (and its lapses
   * forgotten: it ran to an outcome). When it is due (`promoteDue`) it goes
   * back to its place in the queue.
   */
  retry(
    batch: WriteBatch,
    item: QueuedItem<T>,
    delayMs: number,
  ): WriteBatch {
    // A NaN due time sorts after every number: the item would never be due.
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(
        `Invalid retry delay ${delayMs} ms for item "${item.id}" of queue "${item.queue}": use a finite number of 0 or more`,
      );
    }
    const dueAt = this.#now() + delayMs;
    const { lapses: _, ...rest } = this.#ledger.ungate(batch, item);
    const delayed: Delayed<T> = {
      ...rest,
      attempt: item.attempt + 1,
      failures: (item.failures ?? 0) + 1,
      dueAt,
    };
    this.#leases.check(batch, item);
    batch.delete(this.#keys.inflight(item.queue, item.id));
    batch.set(this.#keys.due(item.queue, item.id), dueAt);
    return batch.set(
      this.#keys.delayed(dueAt, item.queue, item.id),
      this.#records.enc(delayed),
    );
  }

  /**
   * Puts delayed items that are due back in their queues. The first call
   * also puts back items that an earlier version stored with a NaN due time
   * (it sorts after every number, so they were never due).
   */
  promoteDue(): Promise<number> {
    return this.#delayed.promoteDue();
  }

  /**
   * Adds the writes that move a leased item to its queue's dead letters.
   * `ref` is kept with it (e.g. the last execution's id). A letter that
   * would not fit one KV value (an item near the largest beside a long
   * error) keeps as much of the error as fits.
   */
  deadLetter(
    batch: WriteBatch,
    item: QueuedItem<T>,
    error: string,
    ref?: string,
  ): WriteBatch {
    return this.#dead.deadLetter(batch, item, error, ref);
  }

  /** A page of a queue's dead letters, oldest item first. */
  listDead(
    queue: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ letters: DeadLetter<T>[]; cursor: string | null }> {
    return this.#dead.list(queue, options);
  }

  /**
   * Puts dead letters back at their place in the queue with their failures
   * reset: all of them, or those whose ids are given. Returns the ids
   * replayed (ids that are not dead letters are skipped).
   */
  replayDead(queue: string, ids?: string[]): Promise<string[]> {
    return this.#dead.replay(queue, ids);
  }

  /**
   * Deletes a queue's dead letters (all, or those whose ids are given);
   * returns how many. `also` adds writes to the atomic that deletes each
   * (e.g. counters of what the item referred to: sums of one key merge).
   */
  purgeDead(
    queue: string,
    ids?: string[],
    also?: (batch: WriteBatch, item: QueuedItem<T>) => void,
  ): Promise<number> {
    return this.#dead.purge(queue, ids, also);
  }

  /**
   * Drops the queue's active marker when it holds nothing, unless an append
   * raced with the check. Returns true when the marker was dropped.
   */
  retireIfEmpty(queue: string): Promise<boolean> {
    return this.#catalog.retireIfEmpty(queue);
  }

  /**
   * Removes a queue and all it holds: waiting, in flight, delayed and dead
   * items and its counters. Returns how many entries went.
   */
  drop(queue: string): Promise<number> {
    return this.#catalog.drop(queue);
  }

  /**
   * Puts items whose lease expired back in the ready list, attempt raised,
   * and moves their queue's epoch (the consumer that held them can no
   * longer acknowledge them). An item marked started counts a crash, a
   * failure, with the lapse before it if there was one; any other counts a
   * lapse (see "Crash loops" in the header).
   */
  recoverExpired(): Promise<number> {
    return this.#recovery.recoverExpired();
  }

  /**
   * Adds the writes that append items to `queue` that wait until `dueAt`
   * (ms since the epoch) before they join it, in the order of their ids
   * like any item. Each item takes two writes: its delayed record and the
   * index that finds it by id (see `cancel`). They count in the queue's
   * backlog from now on; the change feed hears of them when they are due.
   *
   * @throws {RangeError} when `dueAt` is not a finite number
   * @throws {KvLimitError} as `append` does
   */
  appendDelayed(
    batch: WriteBatch,
    queue: string,
    items: { id: string; value: T }[],
    dueAt: number,
  ): WriteBatch {
    return this.#delayed.append(batch, queue, items, dueAt);
  }

  /**
   * Removes an item that waits in `queue` (ready, or appended delayed) so
   * that it never runs; `also` adds writes to the same batch (e.g.
   * counters of what the item referred to). An item in flight is not
   * touched (`running`); one that is gone (done, or never there) is
   * `missing`, and so is one that `match` refuses (left alone). Items
   * waiting for a retry are not found by id: they ran.
   */
  cancel(
    queue: string,
    id: string,
    also?: (batch: WriteBatch, item: QueuedItem<T>) => void,
    match: (item: QueuedItem<T>) => boolean = () => true,
  ): Promise<
    | { state: "waiting" | "delayed"; item: QueuedItem<T>; dueAt?: number }
    | { state: "running" | "missing" }
  > {
    return this.#delayed.cancel(queue, id, also, match);
  }

  /**
   * An item appended delayed to `queue` and not yet due (nor cancelled),
   * read so that a later write may replace it (`withdrawDelayed`) or put
   * it off further (`postponeDelayed`), checked unchanged; null when there
   * is none (it was promoted, cancelled, or never was).
   */
  getDelayed(queue: string, id: string): Promise<DelayedEntry<T> | null> {
    return this.#delayed.get(queue, id);
  }

  /**
   * Adds the writes that remove a delayed item read with `getDelayed` (it
   * never runs), checked unchanged: the batch is refused when it was
   * promoted, cancelled or moved meanwhile. It leaves the backlog.
   */
  withdrawDelayed(batch: WriteBatch, e: DelayedEntry<T>): WriteBatch {
    return this.#delayed.withdraw(batch, e);
  }

  /**
   * Adds the writes that move a delayed item read with `getDelayed` to a
   * new due time (its id, value and place in the order kept), checked
   * unchanged as `withdrawDelayed` is.
   *
   * @throws {RangeError} when `dueAt` is not a finite number
   */
  postponeDelayed(
    batch: WriteBatch,
    e: DelayedEntry<T>,
    dueAt: number,
  ): WriteBatch {
    return this.#delayed.postpone(batch, e, dueAt);
  }

  /**
   * A page of the items appended delayed to `queue` and not yet due (nor
   * cancelled), by id: each with when it is due.
   */
  listDelayed(
    queue: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{
    items: { item: QueuedItem<T>; dueAt: number }[];
    cursor: string | null;
  }> {
    return this.#delayed.list(queue, options);
  }

  /** What a queue holds and has done (see `QueueStats`). */
  stats(queue: string): Promise<QueueStats> {
    return this.#catalog.stats(queue);
  }
}
