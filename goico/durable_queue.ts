/**
 * Durable FIFO queues made of ordered KV records.
 *
 * `kv.enqueue` delivers out of order, re-delivers only ~60 s after a crash
 * and does not exist on remote KV, so every item is a record:
 *
 *   [...prefix, "ready",    queue, id] -> item, waiting
 *   [...prefix, "inflight", queue, id] -> item with a lease, being handled
 *   [...prefix, "active",   queue]     -> marker: the queue may hold items
 *
 * Ids must sort in the order items are accepted (see `monotonicId`). Items
 * are appended inside the caller's atomic, so an item exists exactly when
 * the write that accepted it committed. A consumer leases items (ready ->
 * inflight), handles them, and acknowledges each inside the atomic that
 * records its outcome. Leases that expire (the consumer died) are put back
 * in order with `attempt` raised.
 */

import { ChangeFeed } from "./change_feed.ts";

export interface QueuedItem<T> {
  id: string;
  queue: string;
  value: T;
  /** 1 on first delivery, more after a lease expired. */
  attempt: number;
  enqueuedAt: number;
}

interface InFlight<T> extends QueuedItem<T> {
  leaseUntil: number;
}

export interface DurableQueueOptions {
  /**
   * How long a lease lasts before the item is delivered again, unless the
   * consumer renews it. Default 4 s: a consumer that dies loses its items for
   * no longer than that.
   */
  leaseMs?: number;
  now?: () => number;
  /** Poll interval of the change feed. Default 500 ms. */
  pollMs?: number;
}

export class DurableQueue<T> {
  readonly feed: ChangeFeed;
  readonly #leaseMs: number;
  readonly #now: () => number;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["queue"],
    options: DurableQueueOptions = {},
  ) {
    this.#leaseMs = options.leaseMs ?? 4_000;
    this.#now = options.now ?? Date.now;
    this.feed = new ChangeFeed(kv, [...prefix, "signal"], {
      pollMs: options.pollMs,
    });
  }

  #key(state: "ready" | "inflight", queue: string, id: string): Deno.KvKey {
    return [...this.prefix, state, queue, id];
  }

  /** Adds the writes that append items to `queue` to an atomic operation. */
  append(
    op: Deno.AtomicOperation,
    queue: string,
    items: { id: string; value: T }[],
  ): Deno.AtomicOperation {
    const enqueuedAt = this.#now();
    for (const { id, value } of items) {
      const item: QueuedItem<T> = { id, queue, value, attempt: 1, enqueuedAt };
      op.set(this.#key("ready", queue, id), item);
    }
    op.set([...this.prefix, "active", queue], enqueuedAt);
    return this.feed.notify(op);
  }

  /** The queues that may hold items. */
  async activeQueues(): Promise<string[]> {
    const out: string[] = [];
    for await (
      const e of this.kv.list({ prefix: [...this.prefix, "active"] })
    ) {
      out.push(e.key[e.key.length - 1] as string);
    }
    return out;
  }

  /** Leases up to `max` items from the head of `queue`, in order. */
  async lease(queue: string, max: number): Promise<QueuedItem<T>[]> {
    for (let tries = 0; tries < 5; tries++) {
      const entries = await Array.fromAsync(
        this.kv.list<QueuedItem<T>>({
          prefix: [...this.prefix, "ready", queue],
        }, { limit: max }),
      );
      if (entries.length === 0) return [];
      const op = this.kv.atomic();
      const leaseUntil = this.#now() + this.#leaseMs;
      for (const e of entries) {
        op.check(e).delete(e.key);
        const inflight: InFlight<T> = { ...e.value, leaseUntil };
        op.set(this.#key("inflight", queue, e.value.id), inflight);
      }
      if ((await op.commit()).ok) return entries.map((e) => e.value);
    }
    return [];
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
      const chunk = items.slice(i, i + 100);
      const entries = await this.kv.getMany<InFlight<T>[]>(
        chunk.map((it) => this.#key("inflight", it.queue, it.id)),
      );
      const op = this.kv.atomic();
      let n = 0;
      for (const e of entries) {
        // Only our own lease: the attempt changes when an expired item is delivered again.
        const mine = chunk.find((it) => it.id === e.value?.id);
        if (!e.value || !mine || e.value.attempt !== mine.attempt) continue;
        op.check(e).set(e.key, { ...e.value, leaseUntil });
        n++;
      }
      if (n > 0 && (await op.commit()).ok) renewed += n;
    }
    return renewed;
  }

  /** Adds the write that acknowledges a leased item to an atomic operation. */
  ack(op: Deno.AtomicOperation, item: QueuedItem<T>): Deno.AtomicOperation {
    return op.delete(this.#key("inflight", item.queue, item.id));
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

  /** Puts items whose lease expired back in the ready list, attempt raised. */
  async recoverExpired(): Promise<number> {
    const now = this.#now();
    let moved = 0;
    for await (
      const e of this.kv.list<InFlight<T>>({
        prefix: [...this.prefix, "inflight"],
      })
    ) {
      if (e.value.leaseUntil > now) continue;
      const { leaseUntil: _, ...item } = e.value;
      const op = this.kv.atomic().check(e).delete(e.key)
        .set(this.#key("ready", item.queue, item.id), {
          ...item,
          attempt: item.attempt + 1,
        })
        .set([...this.prefix, "active", item.queue], now);
      if ((await this.feed.notify(op).commit()).ok) moved++;
    }
    return moved;
  }

  /** How many items wait and how many are leased. */
  async stats(queue: string): Promise<{ depth: number; inFlight: number }> {
    const count = async (state: "ready" | "inflight") => {
      let n = 0;
      for await (
        const _ of this.kv.list({ prefix: [...this.prefix, state, queue] })
      ) n++;
      return n;
    };
    return { depth: await count("ready"), inFlight: await count("inflight") };
  }
}
