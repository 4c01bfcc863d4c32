/**
 * The bookkeeping writes that go with a `DurableQueue`'s items as they
 * move: its counters (which make `backlog` one read), its active marker
 * and change signal (a consumer hears of items put in a queue), and the
 * concurrency gates an item gives back when it leaves flight (see
 * queue_gates.ts). Each is added to the write that moves the item.
 */

import type { ChangeFeed } from "./change_feed.ts";
import type { Counter, QueueKeys } from "./queue_keys.ts";
import type { QueuedItem } from "./queue_records.ts";
import type { WriteBatch } from "./write_batch.ts";

const U64 = 1n << 64n;

/** Adds a queue's bookkeeping to the writes that move its items. */
export class QueueLedger<T> {
  constructor(
    private readonly keys: QueueKeys<T>,
    private readonly feed: ChangeFeed,
    private readonly now: () => number,
  ) {}

  /** Adds `n` (which may be negative) to a counter; KvU64 sums wrap. */
  add(batch: WriteBatch, queue: string, name: Counter, n: number): void {
    const v = BigInt(n);
    batch.sum(this.keys.count(queue, name), v >= 0n ? v : U64 + v);
  }

  /** Marks a queue as holding items, and tells the change feed. */
  active(batch: WriteBatch, queue: string, at = this.now()): WriteBatch {
    batch.setShared(this.keys.active(queue), at);
    return this.feed.notify(batch);
  }

  /**
   * Adds the sums that give back the gates an item held in flight, and
   * returns the item without them.
   */
  ungate<I extends QueuedItem<T>>(batch: WriteBatch, item: I): I {
    if (!item.gates) return item;
    for (const name of item.gates) batch.sum(this.keys.gate(name), U64 - 1n);
    const { gates: _, ...rest } = item;
    return rest as I;
  }
}
