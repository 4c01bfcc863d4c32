/**
 * Takes back the expired leases of a `DurableQueue`: items whose consumer
 * died or stalled go back to their place in the ready list, attempt raised,
 * and their queue's epoch moves so that the consumer that held them can no
 * longer acknowledge them (see queue_leases.ts). An item marked started
 * counts a crash, the others a lapse (see "Crash loops" in
 * durable_queue.ts).
 */

import type { QueueKeys } from "./queue_keys.ts";
import type { QueueLedger } from "./queue_ledger.ts";
import type { InFlight, QueuedItem, QueueRecords } from "./queue_records.ts";
import { WriteBatch } from "./write_batch.ts";
import { WritePacker } from "./write_packer.ts";

/**
 * Expired leases of a queue put back in one atomic, at most: each moves
 * the epoch once, which makes the holders of the queue's other items
 * confirm their leases once.
 */
const PUT_BACK_AT_ONCE = 50;

/** Puts a queue's expired leases back. */
export class QueueRecovery<T> {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly keys: QueueKeys<T>,
    private readonly records: QueueRecords,
    private readonly ledger: QueueLedger<T>,
    private readonly now: () => number,
  ) {}

  /** See `DurableQueue.recoverExpired`. */
  async recoverExpired(): Promise<number> {
    const now = this.now();
    const expired = new Map<string, Deno.KvEntry<InFlight<T>>[]>();
    for await (
      const e of this.records.list<InFlight<T>>({
        prefix: this.keys.all("inflight"),
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
    const item = this.ledger.ungate(batch, held);
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
      this.keys.ready(item.queue, item.id, item.value),
      this.records.enc(back),
    );
    batch.setShared(this.keys.epoch(item.queue), now);
    return this.ledger.active(batch, item.queue);
  }
}
