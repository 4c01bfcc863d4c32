/**
 * Durable FIFO queues made of ordered KV records.
 *
 * `kv.enqueue` delivers out of order, re-delivers only ~60 s after a crash
 * and does not exist on remote KV, so every item is a record:
 *
 *   [...prefix, "ready",    queue, id]        -> item, waiting (priority
 *       normal, the default)
 *   [...prefix, "ready",    queue, band, id]  -> item, waiting, of priority
 *       high (band 0) or low (band 2): see queue_priority.ts
 *   [...prefix, "inflight", queue, id]        -> item with a lease, being handled
 *   [...prefix, "delayed",  dueAt, queue, id] -> item waiting for a retry,
 *       or appended to wait until a time (`appendDelayed`)
 *   [...prefix, "due",      queue, id]        -> the due time of a delayed
 *       item (appended delayed or waiting for a retry): found by id
 *       (`cancel`), and counted per queue without reading other queues
 *   [...prefix, "dead",     queue, id]        -> dead letter: item and last error
 *   [...prefix, "active",   queue]            -> marker: the queue may hold items
 *   [...prefix, "epoch",    queue]            -> changes whenever a lease of the
 *       queue is taken back (expired) or the queue is dropped
 *   [...prefix, "count",    queue, name]      -> KvU64 counters: "in" (appended),
 *       "out" (acknowledged or dead-lettered), "acked", "dead"
 *   [...prefix, "gate",     name]             -> KvU64: items in flight that hold
 *       the concurrency gate `name` (see queue_gates.ts)
 *
 * Ids must sort in the order items are accepted (see `monotonicId`). Items
 * are appended inside the caller's write (a `WriteBatch`), so an item
 * exists exactly when the write that accepted it committed. A consumer leases items (ready ->
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
import { deletePrefixes } from "./delete_prefixes.ts";
import { KV_LIMITS } from "./kv_limits.ts";
import {
  type Gate,
  type GateCount,
  type GatedPick,
  type GateHold,
  pickGated,
  readGates,
} from "./queue_gates.ts";
import {
  byPriority,
  DEFAULT_AGING_MS,
  type Priority,
  PRIORITY_BAND,
} from "./queue_priority.ts";
import { type RecordCodec, v8Records } from "./record_codec.ts";
import { KvLimitError, WriteBatch } from "./write_batch.ts";
import { WritePacker } from "./write_packer.ts";

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
  /**
   * The concurrency gates it holds while in flight (see queue_gates.ts):
   * set when it is leased with gates, released whenever it leaves flight.
   */
  gates?: string[];
  /**
   * When its delay or retry fell due (see `promoteDue`): its priority ages
   * from then (from `enqueuedAt` when absent; see queue_priority.ts).
   */
  readyAt?: number;
}

interface InFlight<T> extends QueuedItem<T> {
  leaseUntil: number;
  /** Marked by `start`: an expired lease counts as a crash. */
  started?: boolean;
}

interface Delayed<T> extends QueuedItem<T> {
  dueAt: number;
}

/** A delayed item as `getDelayed` read it, to replace or move in a write. */
export interface DelayedEntry<T> {
  item: QueuedItem<T>;
  dueAt: number;
  /** Its due-time index and delayed record, checked by the write. */
  entries: [Deno.KvEntry<unknown>, Deno.KvEntry<unknown>];
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

/** Bytes of one KV value, as the KV measures it. */
const KV_MAX_VALUE = KV_LIMITS.valueBytes;
/**
 * The most bytes an item may take stored (as its codec stores it; see
 * `itemBytes`): a KV value holds 65,536, and the queue adds up to 256 to an
 * item as it moves (its lease, counts, due time).
 */
export const MAX_ITEM_BYTES = KV_MAX_VALUE - 256;
/** Delayed items put back in their queues by one write, at most (see `promoteDue`). */
const PROMOTE_BATCH = 50;
/** Ends a dead letter's error that was cut to fit. */
const CUT = " [cut to fit]";
/**
 * Expired leases of a queue put back in one atomic, at most: each moves
 * the epoch once, which makes the holders of the queue's other items
 * confirm their leases once.
 */
const PUT_BACK_AT_ONCE = 50;

/** The keys of one queue's bookkeeping. */
interface QueueKeys {
  counts: Record<Counter, Deno.KvKey>;
  active: Deno.KvKey;
  epoch: Deno.KvKey;
}

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

export class DurableQueue<T> {
  readonly feed: ChangeFeed;
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #codec: RecordCodec;
  readonly #priorityOf: ((value: T) => Priority | undefined) | undefined;
  readonly #agingMs: number;
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
   * The keys of each queue's counters, marker and epoch, made once per
   * queue: a write batch recognizes the same key arrays at once when it
   * merges the sums and sets that appends and acknowledgements share.
   */
  #queueKeys = new Map<string, QueueKeys>();

  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["queue"],
    options: DurableQueueOptions<T> = {},
  ) {
    this.#leaseMs = options.leaseMs ?? 4_000;
    this.#now = options.now ?? Date.now;
    this.#codec = options.codec ?? v8Records;
    this.#priorityOf = options.priorityOf;
    this.#agingMs = options.agingMs ?? DEFAULT_AGING_MS;
    if (!Number.isFinite(this.#agingMs) || this.#agingMs <= 0) {
      throw new RangeError(
        `Invalid agingMs ${this.#agingMs}: use a number of ms above 0`,
      );
    }
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

  /** The band of an item's value: 1 (normal) when it names none. */
  #band(value: T): number {
    const p = this.#priorityOf?.(value);
    return p === undefined ? 1 : PRIORITY_BAND[p] ?? 1;
  }

  /** Where an item waits in its queue's ready list: in the band of its priority. */
  #readyKey(queue: string, id: string, value: T): Deno.KvKey {
    const band = this.#band(value);
    return band === 1
      ? [...this.prefix, "ready", queue, id]
      : [...this.prefix, "ready", queue, band, id];
  }

  /** The ready list of one band of a queue. */
  #bandSelector(queue: string, band: number): Deno.KvListSelector {
    const base = [...this.prefix, "ready", queue];
    // Normal items sit at string keys, which sort before every number.
    return band === 1
      ? { start: base, end: [...base, -Infinity] }
      : { prefix: [...base, band] };
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

  /** The keys of a queue's bookkeeping (the same arrays each time). */
  #keysOf(queue: string): QueueKeys {
    let k = this.#queueKeys.get(queue);
    if (!k) {
      if (this.#queueKeys.size >= 10_000) this.#queueKeys.clear();
      const count = (name: Counter) => [...this.prefix, "count", queue, name];
      k = {
        counts: {
          in: count("in"),
          out: count("out"),
          acked: count("acked"),
          dead: count("dead"),
        },
        active: [...this.prefix, "active", queue],
        epoch: [...this.prefix, "epoch", queue],
      };
      this.#queueKeys.set(queue, k);
    }
    return k;
  }

  #count(queue: string, name: Counter): Deno.KvKey {
    return this.#keysOf(queue).counts[name];
  }

  #epoch(queue: string): Deno.KvKey {
    return this.#keysOf(queue).epoch;
  }

  /** The key of a concurrency gate's counter (see queue_gates.ts). */
  gateKey(name: string): Deno.KvKey {
    return [...this.prefix, "gate", name];
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
   * Adds the sums that give back the gates an item held in flight, and
   * returns the item without them.
   */
  #ungate<I extends QueuedItem<T>>(batch: WriteBatch, item: I): I {
    if (!item.gates) return item;
    for (const name of item.gates) batch.sum(this.gateKey(name), U64 - 1n);
    const { gates: _, ...rest } = item;
    return rest as I;
  }

  /** Adds the check that `item`'s lease is still held (its queue's epoch unchanged). */
  #checkLease(batch: WriteBatch, item: QueuedItem<T>): void {
    const stamp = this.#held.get(item);
    if (stamp === undefined) {
      throw new Error(
        `Item "${item.id}" of queue "${item.queue}" was not leased through this queue`,
      );
    }
    // The batch makes the same check once, however many items share it.
    batch.check({ key: this.#epoch(item.queue), versionstamp: stamp });
  }

  /** Adds `n` (which may be negative) to a counter; KvU64 sums wrap. */
  #add(batch: WriteBatch, queue: string, name: Counter, n: number) {
    const v = BigInt(n);
    batch.sum(this.#count(queue, name), v >= 0n ? v : U64 + v);
  }

  /** Marks a queue as holding items, and tells the change feed. */
  #active(batch: WriteBatch, queue: string, at = this.#now()): WriteBatch {
    batch.setShared(this.#keysOf(queue).active, at);
    return this.feed.notify(batch);
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
    this.#add(batch, queue, "in", items.length);
    this.#active(batch, queue, enqueuedAt);
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
        batch.set(this.#readyKey(queue, id, value), this.#enc(item), {
          maxBytes: MAX_ITEM_BYTES,
        });
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
  async head(
    queue: string,
    max: number,
  ): Promise<Deno.KvEntry<QueuedItem<T>>[]> {
    // The epoch is read no later than the lease commits: if it is unchanged
    // when the item is acknowledged, no lease was taken back since.
    // Each band's head (see queue_priority.ts), then the first `max` of
    // them in the order of their effective priority.
    const bands = this.#priorityOf ? [0, 1, 2] : [1];
    const [epoch, ...heads] = await Promise.all([
      this.kv.get(this.#epoch(queue)),
      ...bands.map((band) =>
        Array.fromAsync(
          this.#list<QueuedItem<T>>(this.#bandSelector(queue, band), {
            limit: max,
          }),
        )
      ),
    ]);
    const entries = heads.length === 1 ? heads[0] : byPriority(
      bands.map((band, i) => ({ band, entries: heads[i] })),
      (e) => e.value.readyAt ?? e.value.enqueuedAt,
      (e) => e.value.id,
      this.#now(),
      this.#agingMs,
    ).slice(0, max);
    for (const e of entries) this.#headEpochs.set(e, epoch.versionstamp);
    return entries;
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
    const leaseUntil = this.#now() + this.#leaseMs;
    const leased: QueuedItem<T>[] = [];
    for (const e of entries) {
      const epoch = this.#headEpochs.get(e);
      if (epoch === undefined) {
        throw new Error(
          `Item "${e.value.id}" of queue "${e.value.queue}" was not read with head()`,
        );
      }
      const hold = holds?.get(e);
      const inflight: InFlight<T> = {
        ...e.value,
        leaseUntil,
        ...(hold && { gates: hold.names }),
      };
      const part = batch.part().check(e).delete(e.key).set(
        this.#key("inflight", e.value.queue, e.value.id),
        this.#enc(inflight),
      );
      if (hold) {
        // Each counter still as read, one more holder of each.
        part.check(...hold.checks);
        for (const name of hold.names) part.sum(this.gateKey(name), 1n);
      }
      if (!batch.fits(part)) break;
      batch.add(part);
      if (hold) e.value.gates = hold.names;
      this.#held.set(e.value, epoch);
      leased.push(e.value);
    }
    return leased;
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
    let renewed = 0;
    for (let i = 0; i < items.length; i += 100) {
      renewed += await this.#renew(items.slice(i, i + 100));
    }
    return renewed;
  }

  /** Renews the leases still ours, in as few atomics as fit. */
  async #renew(items: QueuedItem<T>[], tries = 0): Promise<number> {
    const leaseUntil = this.#now() + this.#leaseMs;
    let renewed = 0;
    const again: QueuedItem<T>[] = [];
    const packer = new WritePacker<QueuedItem<T>>(
      this.kv,
      async (batch, some) => {
        if ((await batch.commit()).ok) renewed += some.length;
        else again.push(...some);
      },
    );
    for (const [item, e] of await this.#ownLeases(items)) {
      await packer.add(
        item,
        (part) =>
          part.check(e).set(e.key, this.#enc({ ...e.value, leaseUntil })),
      );
    }
    await packer.flush();
    // Refused when one of the entries changed between the read and the
    // commit (`start` marked it): read those again.
    if (again.length > 0 && tries < 4) {
      renewed += await this.#renew(again, tries + 1);
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
    const packer = new WritePacker<QueuedItem<T>>(
      this.kv,
      async (batch, some) => {
        if ((await batch.commit()).ok) released += some.length;
      },
    );
    for (let i = 0; i < items.length; i += 100) {
      for (const [it, e] of await this.#ownLeases(items.slice(i, i + 100))) {
        const { leaseUntil: _, started: _s, ...held } = e.value;
        await packer.add(it, (part) => {
          const item = this.#ungate(part, held);
          part.check(e).delete(e.key)
            .set(
              this.#readyKey(item.queue, item.id, item.value),
              this.#enc(item),
            );
          this.#active(part, item.queue);
        });
      }
    }
    await packer.flush();
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
      const res = await new WriteBatch(this.kv).check(e)
        .set(e.key, this.#enc({ ...e.value, started: true })).commit();
      if (res.ok) return true;
    }
    return false;
  }

  /**
   * Adds the writes that acknowledge a leased item to a batch: the check of
   * its lease, a delete, and its queue's counters (summed once per batch).
   */
  ack(batch: WriteBatch, item: QueuedItem<T>): WriteBatch {
    this.#checkLease(batch, item);
    batch.delete(this.#key("inflight", item.queue, item.id));
    this.#ungate(batch, item);
    this.#add(batch, item.queue, "out", 1);
    this.#add(batch, item.queue, "acked", 1);
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
    this.#ungate(batch, item);
    return batch.delete(this.#key("inflight", item.queue, item.id));
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
    const { lapses: _, ...rest } = this.#ungate(batch, item);
    const delayed: Delayed<T> = {
      ...rest,
      attempt: item.attempt + 1,
      failures: (item.failures ?? 0) + 1,
      dueAt,
    };
    this.#checkLease(batch, item);
    batch.delete(this.#key("inflight", item.queue, item.id));
    batch.set([...this.prefix, "due", item.queue, item.id], dueAt);
    return batch.set(
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
    // Many at once (a delayed request's items fall due together): as many
    // moves as one write holds, up to PROMOTE_BATCH; one by one when a
    // write is refused (an item was cancelled or moved meanwhile).
    let batch = new WriteBatch(this.kv);
    let parts: WriteBatch[] = [];
    const flush = async () => {
      if (parts.length === 0) return;
      if ((await batch.commit()).ok) moved += parts.length;
      else if (parts.length > 1) {
        for (const part of parts) if ((await part.commit()).ok) moved++;
      }
      batch = new WriteBatch(this.kv);
      parts = [];
    };
    for (const iter of [due, lost]) {
      for await (const e of iter) {
        const { dueAt, ...was } = e.value;
        // Its priority ages from now on (a NaN due time: from acceptance).
        const item: QueuedItem<T> = Number.isFinite(dueAt)
          ? { ...was, readyAt: dueAt }
          : was;
        const part = new WriteBatch(this.kv).check(e).delete(e.key)
          .delete([...this.prefix, "due", item.queue, item.id])
          .set(
            this.#readyKey(item.queue, item.id, item.value),
            this.#enc(item),
          );
        this.#active(part, item.queue);
        if (parts.length >= PROMOTE_BATCH || !batch.fits(part)) await flush();
        batch.add(part);
        parts.push(part);
      }
    }
    await flush();
    return moved;
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
    const ungated = this.#ungate(batch, item);
    const letter: DeadLetter<T> = {
      item: { ...ungated, failures: (item.failures ?? 0) + 1 },
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
    this.#checkLease(batch, item);
    batch.delete(this.#key("inflight", item.queue, item.id));
    batch.set(this.#key("dead", item.queue, item.id), this.#enc(letter));
    this.#add(batch, item.queue, "out", 1);
    this.#add(batch, item.queue, "dead", 1);
    return batch;
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
    // A check per letter: as many letters an atomic as fit.
    const packer = new WritePacker<string>(this.kv, async (batch, some) => {
      if ((await batch.commit()).ok) replayed.push(...some);
    });
    for await (const e of letters) {
      const { lapses: _, crashes: _c, ...was } = e.value.item;
      const item: QueuedItem<T> = {
        ...was,
        attempt: was.attempt + 1,
        failures: 0,
      };
      await packer.add(item.id, (part) => {
        part.check(e).delete(e.key).set(
          this.#readyKey(queue, item.id, item.value),
          this.#enc(item),
        );
        this.#add(part, queue, "in", 1);
        this.#add(part, queue, "dead", -1);
        this.#active(part, queue);
      });
    }
    await packer.flush();
    return replayed;
  }

  /**
   * Deletes a queue's dead letters (all, or those whose ids are given);
   * returns how many. `also` adds writes to the atomic that deletes each
   * (e.g. counters of what the item referred to: sums of one key merge).
   */
  async purgeDead(
    queue: string,
    ids?: string[],
    also?: (batch: WriteBatch, item: QueuedItem<T>) => void,
  ): Promise<number> {
    const letters = ids
      ? (await this.#getDead(queue, ids))
      : this.#list<DeadLetter<T>>({
        prefix: [...this.prefix, "dead", queue],
      });
    let purged = 0;
    const packer = new WritePacker<string>(this.kv, async (batch, some) => {
      if ((await batch.commit()).ok) purged += some.length;
    });
    for await (const e of letters) {
      await packer.add(e.value.item.id, (part) => {
        part.check(e).delete(e.key);
        this.#add(part, queue, "dead", -1);
        also?.(part, e.value.item);
      });
    }
    await packer.flush();
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
    const res = await new WriteBatch(this.kv).check(marker).delete(marker.key)
      .commit();
    return res.ok;
  }

  /**
   * Removes a queue and all it holds: waiting, in flight, delayed and dead
   * items and its counters. Returns how many entries went.
   */
  async drop(queue: string): Promise<number> {
    const at = this.prefix.length;
    // Items in flight give their gates back as they go (their holders'
    // acknowledgements then find their leases gone).
    const gated = new WritePacker<string>(this.kv, async (batch) => {
      await batch.commit();
    });
    for await (
      const e of this.#list<InFlight<T>>({
        prefix: [...this.prefix, "inflight", queue],
      })
    ) {
      if (!e.value.gates) continue;
      await gated.add(e.value.id, (part) => {
        part.check(e).delete(e.key);
        this.#ungate(part, e.value);
      });
    }
    await gated.flush();
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
    // A queue's items go back together, in as few atomics as fit (at most
    // PUT_BACK_AT_ONCE each); one by one when an atomic is refused (an item
    // was renewed or acknowledged meanwhile).
    let moved = 0;
    for (const entries of expired.values()) {
      const packer = new WritePacker<Deno.KvEntry<InFlight<T>>>(
        this.kv,
        async (batch, chunk) => {
          // Together, an error is a refusal too: each alone then says.
          const ok = chunk.length > 1
            ? await batch.commit().then((r) => r.ok, () => false)
            : (await batch.commit()).ok;
          if (ok) {
            moved += chunk.length;
          } else if (chunk.length > 1) {
            for (const e of chunk) {
              const one = this.#putBack(new WriteBatch(this.kv), e, now);
              if ((await one.commit()).ok) moved++;
            }
          }
        },
      );
      for (const e of entries) {
        if (packer.pending >= PUT_BACK_AT_ONCE) await packer.flush();
        await packer.add(e, (part) => this.#putBack(part, e, now));
      }
      await packer.flush();
    }
    return moved;
  }

  /**
   * Adds the writes that put an expired in-flight entry back (see
   * `recoverExpired`), moving its queue's epoch.
   */
  #putBack(
    batch: WriteBatch,
    e: Deno.KvEntry<InFlight<T>>,
    now: number,
  ): WriteBatch {
    const { leaseUntil: _, started, ...held } = e.value;
    const item = this.#ungate(batch, held);
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
    batch.check(e).delete(e.key).set(
      this.#readyKey(item.queue, item.id, item.value),
      this.#enc(back),
    );
    batch.setShared(this.#epoch(item.queue), now);
    return this.#active(batch, item.queue);
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
    // A NaN due time sorts after every number: the item would never be due.
    if (!Number.isFinite(dueAt)) {
      throw new RangeError(
        `Invalid due time ${dueAt} for items of queue "${queue}": use a finite number of ms since the epoch`,
      );
    }
    const enqueuedAt = this.#now();
    this.#add(batch, queue, "in", items.length);
    for (let i = 0; i < items.length; i++) {
      const { id, value } = items[i];
      const item: Delayed<T> = {
        id,
        queue,
        value,
        attempt: 1,
        failures: 0,
        enqueuedAt,
        dueAt,
      };
      try {
        batch.set(
          [...this.prefix, "delayed", dueAt, queue, id],
          this.#enc(item),
          { maxBytes: MAX_ITEM_BYTES },
        );
        batch.set([...this.prefix, "due", queue, id], dueAt);
      } catch (err) {
        throw err instanceof KvLimitError ? err.at(i, "Item") : err;
      }
    }
    return batch;
  }

  /**
   * Removes an item that waits in `queue` (ready, or appended delayed) so
   * that it never runs; `also` adds writes to the same batch (e.g.
   * counters of what the item referred to). An item in flight is not
   * touched (`running`); one that is gone (done, or never there) is
   * `missing`, and so is one that `match` refuses (left alone). Items
   * waiting for a retry are not found by id: they ran.
   */
  async cancel(
    queue: string,
    id: string,
    also?: (batch: WriteBatch, item: QueuedItem<T>) => void,
    match: (item: QueuedItem<T>) => boolean = () => true,
  ): Promise<
    | { state: "waiting" | "delayed"; item: QueuedItem<T>; dueAt?: number }
    | { state: "running" | "missing" }
  > {
    const dueKey = [...this.prefix, "due", queue, id];
    for (let tries = 0; tries < 5; tries++) {
      const base = [...this.prefix, "ready", queue];
      const [normal, high, low, due, inflight] = await this.kv.getMany<
        unknown[]
      >([
        [...base, id],
        [...base, PRIORITY_BAND.high, id],
        [...base, PRIORITY_BAND.low, id],
        dueKey,
        this.#key("inflight", queue, id),
      ]);
      // An item waits in the band of its priority.
      const ready = [normal, high, low].find((e) => e.versionstamp !== null) ??
        normal;
      const batch = new WriteBatch(this.kv);
      let found:
        | { state: "waiting" | "delayed"; item: QueuedItem<T>; dueAt?: number }
        | undefined;
      if (ready.versionstamp !== null) {
        const item = this.#dec<QueuedItem<T>>(ready as Deno.KvEntry<unknown>)
          .value;
        batch.check(ready).delete(ready.key);
        found = { state: "waiting", item };
      } else if (typeof due.value === "number") {
        const delayed = await this.kv.get(
          [...this.prefix, "delayed", due.value, queue, id],
        );
        if (delayed.versionstamp === null) continue; // promoted meanwhile
        const { dueAt, ...item } = this.#dec<Delayed<T>>(
          delayed as Deno.KvEntry<unknown>,
        ).value;
        // Waiting for a retry: it ran already, and is not cancelled.
        if (item.attempt > 1) return { state: "missing" };
        batch.check(due, delayed).delete(due.key).delete(delayed.key);
        found = { state: "delayed", item, dueAt };
      } else if (inflight.versionstamp !== null) return { state: "running" };
      else return { state: "missing" };
      if (!match(found.item)) return { state: "missing" };
      this.#add(batch, queue, "out", 1);
      also?.(batch, found.item);
      if ((await batch.commit()).ok) return found;
    }
    return { state: "running" };
  }

  /**
   * An item appended delayed to `queue` and not yet due (nor cancelled),
   * read so that a later write may replace it (`withdrawDelayed`) or put
   * it off further (`postponeDelayed`), checked unchanged; null when there
   * is none (it was promoted, cancelled, or never was).
   */
  async getDelayed(queue: string, id: string): Promise<DelayedEntry<T> | null> {
    const due = await this.kv.get([...this.prefix, "due", queue, id]);
    if (typeof due.value !== "number") return null;
    const delayed = await this.kv.get(
      [...this.prefix, "delayed", due.value, queue, id],
    );
    if (delayed.versionstamp === null) return null; // promoted meanwhile
    const { dueAt, ...item } = this.#dec<Delayed<T>>(
      delayed as Deno.KvEntry<unknown>,
    ).value;
    return { item, dueAt, entries: [due, delayed as Deno.KvEntry<unknown>] };
  }

  /**
   * Adds the writes that remove a delayed item read with `getDelayed` (it
   * never runs), checked unchanged: the batch is refused when it was
   * promoted, cancelled or moved meanwhile. It leaves the backlog.
   */
  withdrawDelayed(batch: WriteBatch, e: DelayedEntry<T>): WriteBatch {
    const [due, delayed] = e.entries;
    batch.check(due, delayed).delete(due.key).delete(delayed.key);
    this.#add(batch, e.item.queue, "out", 1);
    return batch;
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
    if (!Number.isFinite(dueAt)) {
      throw new RangeError(
        `Invalid due time ${dueAt} for item "${e.item.id}": use a finite number of ms since the epoch`,
      );
    }
    const [due, delayed] = e.entries;
    const { queue, id } = e.item;
    const item: Delayed<T> = { ...e.item, dueAt };
    batch.check(due, delayed).delete(delayed.key)
      .set([...this.prefix, "delayed", dueAt, queue, id], this.#enc(item))
      .set(due.key, dueAt);
    return batch;
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
        // Waiting for a retry (it ran already): not a delayed event.
        if (item.attempt > 1) continue;
        items.push({ item, dueAt });
      }
    }
    return {
      items,
      cursor: index.length === limit && iter.cursor ? iter.cursor : null,
    };
  }

  /** What a queue holds and has done (see `QueueStats`). */
  /** The delayed items of one queue, read through its due index. */
  async #delayedOf(queue: string): Promise<Deno.KvEntry<Delayed<T>>[]> {
    const index = await Array.fromAsync(
      this.kv.list<number>({ prefix: [...this.prefix, "due", queue] }),
    );
    const out: Deno.KvEntry<Delayed<T>>[] = [];
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
        if (e.value !== null) out.push(e as Deno.KvEntry<Delayed<T>>);
      }
    }
    return out;
  }

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
      // This queue's delayed items, found through their due index: the
      // delayed list is ordered by due time across every queue, and one
      // tenant's many delayed items must not be read for another's stats.
      this.#delayedOf(queue),
      // The oldest of each band.
      Promise.all(
        [0, 1, 2].map((band) =>
          Array.fromAsync(
            this.#list<QueuedItem<T>>(this.#bandSelector(queue, band), {
              limit: 1,
            }),
          )
        ),
      ).then((heads) => heads.flat()),
    ]);
    const count = (e: Deno.KvEntryMaybe<Deno.KvU64>) =>
      Number(BigInt.asIntN(64, e.value?.value ?? 0n));
    // A loop, not Math.min(...): a queue may hold more items than a call
    // takes arguments.
    let oldest = now;
    for (const e of [...inflight, ...delayed, ...first]) {
      if (e.value.enqueuedAt < oldest) oldest = e.value.enqueuedAt;
    }
    const inFlight = inflight.length;
    return {
      depth: Math.max(0, backlog - inFlight),
      inFlight,
      delayed: delayed.length,
      dead: count(counters[1]),
      processed: count(counters[0]),
      oldestAgeMs: now - oldest,
    };
  }
}
