/**
 * The leases of a `DurableQueue`: taking items from the head of a queue
 * (ready -> inflight), holding them (renewals, `start`), handing them back
 * unhandled, and checking, when an item's outcome is recorded, that its
 * lease is still held: through its queue's epoch, one check per queue (see
 * "Leases" in durable_queue.ts).
 */

import type { GateHold } from "./queue_gates.ts";
import type { QueueKeys } from "./queue_keys.ts";
import type { QueueLedger } from "./queue_ledger.ts";
import { byPriority } from "./queue_priority.ts";
import type { InFlight, QueuedItem, QueueRecords } from "./queue_records.ts";
import { WriteBatch } from "./write_batch.ts";
import { WritePacker } from "./write_packer.ts";

/** The timing of a queue's leases (see `DurableQueueOptions`). */
export interface LeaseTiming {
  /** The clock. */
  now: () => number;
  /** How long a lease lasts, in ms. */
  leaseMs: number;
  /** How long an item waits ready before its priority rises, in ms. */
  agingMs: number;
}

/** Takes, holds, checks and hands back the leases of a queue's items. */
export class QueueLeases<T> {
  /**
   * Items leased here, each with the versionstamp of its queue's epoch when
   * its lease was known to be held (see "Leases" in durable_queue.ts).
   */
  readonly #held = new WeakMap<QueuedItem<T>, string | null>();
  /**
   * What `head` read with each entry it returned: its queue's epoch, and
   * the KV value the entry's record was decoded from (its lease record is
   * written from it: `QueueRecords.extend`), until the record is changed.
   */
  readonly #headReads = new WeakMap<
    object,
    { epoch: string | null; stored: unknown }
  >();
  readonly #now: () => number;
  readonly #leaseMs: number;
  readonly #agingMs: number;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly keys: QueueKeys<T>,
    private readonly records: QueueRecords,
    private readonly ledger: QueueLedger<T>,
    timing: LeaseTiming,
  ) {
    this.#now = timing.now;
    this.#leaseMs = timing.leaseMs;
    this.#agingMs = timing.agingMs;
  }

  /** See `DurableQueue.head`. */
  async head(
    queue: string,
    max: number,
  ): Promise<Deno.KvEntry<QueuedItem<T>>[]> {
    // The epoch is read no later than the lease commits: if it is unchanged
    // when the item is acknowledged, no lease was taken back since.
    // Each band's head (see queue_priority.ts), then the first `max` of
    // them in the order of their effective priority.
    const bands = this.keys.bands;
    const reads: { epoch: string | null; stored: unknown }[] = [];
    const band = async (band: number) => {
      const entries: Deno.KvEntry<QueuedItem<T>>[] = [];
      for await (
        const { entry, stored } of this.records.listStored<QueuedItem<T>>(
          this.keys.readyBand(queue, band),
          { limit: max },
        )
      ) {
        const read = { epoch: null, stored };
        reads.push(read);
        this.#headReads.set(entry, read);
        entries.push(entry);
      }
      return entries;
    };
    const [epoch, ...heads] = await Promise.all([
      this.kv.get(this.keys.epoch(queue)),
      ...bands.map(band),
    ]);
    for (const read of reads) read.epoch = epoch.versionstamp;
    const entries = heads.length === 1 ? heads[0] : byPriority(
      bands.map((band, i) => ({ band, entries: heads[i] })),
      (e) => e.value.readyAt ?? e.value.enqueuedAt,
      (e) => e.value.id,
      this.#now(),
      this.#agingMs,
    ).slice(0, max);
    return entries;
  }

  /** See `DurableQueue.leaseInto`. */
  leaseInto(
    batch: WriteBatch,
    entries: Deno.KvEntry<QueuedItem<T>>[],
    holds?: Map<Deno.KvEntry<QueuedItem<T>>, GateHold>,
  ): QueuedItem<T>[] {
    const leaseUntil = this.#now() + this.#leaseMs;
    const leased: QueuedItem<T>[] = [];
    for (const e of entries) {
      const read = this.#headReads.get(e);
      if (read === undefined) {
        throw new Error(
          `Item "${e.value.id}" of queue "${e.value.queue}" was not read with head()`,
        );
      }
      const hold = holds?.get(e);
      // The record leased: `{ ...e.value, leaseUntil, gates }`, written
      // from the bytes it was read as when it is unchanged.
      const lease: Pick<InFlight<T>, "leaseUntil" | "gates"> = hold
        ? { leaseUntil, gates: hold.names }
        : { leaseUntil };
      const part = batch.part().check(e).delete(e.key).set(
        this.keys.inflight(e.value.queue, e.value.id),
        read.stored === undefined
          ? this.records.enc({ ...e.value, ...lease })
          : this.records.extend(read.stored, e.value, lease),
      );
      if (hold) {
        // Each counter still as read, one more holder of each.
        part.check(...hold.checks);
        for (const name of hold.names) part.sum(this.keys.gate(name), 1n);
      }
      if (!batch.fits(part)) break;
      batch.add(part);
      if (hold) {
        e.value.gates = hold.names;
        read.stored = undefined; // no longer what the record is
      }
      this.#held.set(e.value, read.epoch);
      leased.push(e.value);
    }
    return leased;
  }

  /** Adds the check that `item`'s lease is still held (its queue's epoch unchanged). */
  check(batch: WriteBatch, item: QueuedItem<T>): void {
    const stamp = this.#held.get(item);
    if (stamp === undefined) {
      throw new Error(
        `Item "${item.id}" of queue "${item.queue}" was not leased through this queue`,
      );
    }
    // The batch makes the same check once, however many items share it.
    batch.check({ key: this.keys.epoch(item.queue), versionstamp: stamp });
  }

  /** See `DurableQueue.renew`. */
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
    for (const [item, e] of await this.#own(items)) {
      await packer.add(
        item,
        (part) =>
          part.check(e).set(
            e.key,
            this.records.enc({ ...e.value, leaseUntil }),
          ),
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

  /** See `DurableQueue.release`. */
  async release(items: QueuedItem<T>[]): Promise<number> {
    let released = 0;
    const packer = new WritePacker<QueuedItem<T>>(
      this.kv,
      async (batch, some) => {
        if ((await batch.commit()).ok) released += some.length;
      },
    );
    for (let i = 0; i < items.length; i += 100) {
      for (const [it, e] of await this.#own(items.slice(i, i + 100))) {
        const { leaseUntil: _, started: _s, ...held } = e.value;
        await packer.add(it, (part) => {
          const item = this.ledger.ungate(part, held);
          part.check(e).delete(e.key)
            .set(
              this.keys.ready(item.queue, item.id, item.value),
              this.records.enc(item),
            );
          this.ledger.active(part, item.queue);
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
  async #own(
    items: QueuedItem<T>[],
  ): Promise<[QueuedItem<T>, Deno.KvEntry<InFlight<T>>][]> {
    // A read names at most 10 keys.
    const reads: Promise<Deno.KvEntryMaybe<InFlight<T>>[]>[] = [];
    for (let i = 0; i < items.length; i += 10) {
      reads.push(this.records.getMany<InFlight<T>>(
        items.slice(i, i + 10).map((it) => this.keys.inflight(it.queue, it.id)),
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

  /** See `DurableQueue.confirm`. */
  async confirm(items: QueuedItem<T>[]): Promise<QueuedItem<T>[]> {
    const queues = [...new Set(items.map((it) => it.queue))];
    const epochs = new Map(
      await Promise.all(
        queues.map(async (q) =>
          [q, (await this.kv.get(this.keys.epoch(q))).versionstamp] as const
        ),
      ),
    );
    const own = new Set<QueuedItem<T>>();
    for (let i = 0; i < items.length; i += 100) {
      for (const [it] of await this.#own(items.slice(i, i + 100))) {
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

  /** See `DurableQueue.start`. */
  async start(item: QueuedItem<T>): Promise<boolean> {
    // A renewal may change the entry between the read and the write.
    for (let tries = 0; tries < 5; tries++) {
      const [own] = await this.#own([item]);
      if (!own) return false;
      const [, e] = own;
      const res = await new WriteBatch(this.kv).check(e)
        .set(e.key, this.records.enc({ ...e.value, started: true })).commit();
      if (res.ok) return true;
    }
    return false;
  }
}
