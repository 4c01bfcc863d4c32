/**
 * The delayed items of a `DurableQueue`: items appended to wait until a
 * time (`appendDelayed`) and items waiting for a retry (`retry`). Each is
 * two records (see queue_keys.ts): its record in the delayed list, ordered
 * by due time across every queue (so that `promoteDue` reads only what is
 * due), and its due time in the queue's due index, found by id (`cancel`,
 * `getDelayed`) and listed per queue without reading other queues
 * (`listDelayed`, `stats`). Delayed items count in their queue's backlog
 * from when they are appended; when they are due they go back to their
 * place in the queue (in the order of their ids, like any item), and the
 * change feed hears of them then.
 *
 * An item appended delayed and not yet due can be cancelled, withdrawn or
 * put off (`withdrawDelayed`, `postponeDelayed`) in a write checked against
 * what was read (`getDelayed`); one waiting for a retry ran already and is
 * not found by id.
 */

import type { QueueKeys } from "./queue_keys.ts";
import type { QueueLedger } from "./queue_ledger.ts";
import {
  type Delayed,
  MAX_ITEM_BYTES,
  type QueuedItem,
  type QueueRecords,
} from "./queue_records.ts";
import { KvLimitError, WriteBatch } from "./write_batch.ts";

/** A delayed item as `getDelayed` read it, to replace or move in a write. */
export interface DelayedEntry<T> {
  item: QueuedItem<T>;
  dueAt: number;
  /** Its due-time index and delayed record, checked by the write. */
  entries: [Deno.KvEntry<unknown>, Deno.KvEntry<unknown>];
}

/** What `cancel` found and removed, or why it removed nothing. */
export type Cancelled<T> =
  | { state: "waiting" | "delayed"; item: QueuedItem<T>; dueAt?: number }
  | { state: "running" | "missing" };

/** Delayed items put back in their queues by one write, at most (see `promoteDue`). */
const PROMOTE_BATCH = 50;

/** Appends, finds, moves and promotes a queue's delayed items. */
export class DelayedItems<T> {
  /** Items parked under a NaN due time were looked for (see `promoteDue`). */
  #repaired = false;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly keys: QueueKeys<T>,
    private readonly records: QueueRecords,
    private readonly ledger: QueueLedger<T>,
    private readonly now: () => number,
  ) {}

  /** See `DurableQueue.appendDelayed`. */
  append(
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
    const enqueuedAt = this.now();
    this.ledger.add(batch, queue, "in", items.length);
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
          this.keys.delayed(dueAt, queue, id),
          this.records.enc(item),
          { maxBytes: MAX_ITEM_BYTES },
        );
        batch.set(this.keys.due(queue, id), dueAt);
      } catch (err) {
        throw err instanceof KvLimitError ? err.at(i, "Item") : err;
      }
    }
    return batch;
  }

  /** See `DurableQueue.cancel`. */
  async cancel(
    queue: string,
    id: string,
    also: ((batch: WriteBatch, item: QueuedItem<T>) => void) | undefined,
    match: (item: QueuedItem<T>) => boolean,
  ): Promise<Cancelled<T>> {
    const dueKey = this.keys.due(queue, id);
    for (let tries = 0; tries < 5; tries++) {
      const [normal, high, low, due, inflight] = await this.kv.getMany<
        unknown[]
      >([
        ...this.keys.readyAnyBand(queue, id),
        dueKey,
        this.keys.inflight(queue, id),
      ]);
      // An item waits in the band of its priority.
      const ready = [normal, high, low].find((e) => e.versionstamp !== null) ??
        normal;
      const batch = new WriteBatch(this.kv);
      let found:
        | { state: "waiting" | "delayed"; item: QueuedItem<T>; dueAt?: number }
        | undefined;
      if (ready.versionstamp !== null) {
        const item = this.records.dec<QueuedItem<T>>(
          ready as Deno.KvEntry<unknown>,
        ).value;
        batch.check(ready).delete(ready.key);
        found = { state: "waiting", item };
      } else if (typeof due.value === "number") {
        const delayed = await this.kv.get(
          this.keys.delayed(due.value, queue, id),
        );
        if (delayed.versionstamp === null) continue; // promoted meanwhile
        const { dueAt, ...item } = this.records.dec<Delayed<T>>(
          delayed as Deno.KvEntry<unknown>,
        ).value;
        // Waiting for a retry: it ran already, and is not cancelled.
        if (item.attempt > 1) return { state: "missing" };
        batch.check(due, delayed).delete(due.key).delete(delayed.key);
        found = { state: "delayed", item, dueAt };
      } else if (inflight.versionstamp !== null) return { state: "running" };
      else return { state: "missing" };
      if (!match(found.item)) return { state: "missing" };
      this.ledger.add(batch, queue, "out", 1);
      also?.(batch, found.item);
      if ((await batch.commit()).ok) return found;
    }
    return { state: "running" };
  }

  /** See `DurableQueue.getDelayed`. */
  async get(queue: string, id: string): Promise<DelayedEntry<T> | null> {
    const due = await this.kv.get(this.keys.due(queue, id));
    if (typeof due.value !== "number") return null;
    const delayed = await this.kv.get(this.keys.delayed(due.value, queue, id));
    if (delayed.versionstamp === null) return null; // promoted meanwhile
    const { dueAt, ...item } = this.records.dec<Delayed<T>>(
      delayed as Deno.KvEntry<unknown>,
    ).value;
    return { item, dueAt, entries: [due, delayed as Deno.KvEntry<unknown>] };
  }

  /** See `DurableQueue.withdrawDelayed`. */
  withdraw(batch: WriteBatch, e: DelayedEntry<T>): WriteBatch {
    const [due, delayed] = e.entries;
    batch.check(due, delayed).delete(due.key).delete(delayed.key);
    this.ledger.add(batch, e.item.queue, "out", 1);
    return batch;
  }

  /** See `DurableQueue.postponeDelayed`. */
  postpone(batch: WriteBatch, e: DelayedEntry<T>, dueAt: number): WriteBatch {
    if (!Number.isFinite(dueAt)) {
      throw new RangeError(
        `Invalid due time ${dueAt} for item "${e.item.id}": use a finite number of ms since the epoch`,
      );
    }
    const [due, delayed] = e.entries;
    const { queue, id } = e.item;
    const item: Delayed<T> = { ...e.item, dueAt };
    batch.check(due, delayed).delete(delayed.key)
      .set(this.keys.delayed(dueAt, queue, id), this.records.enc(item))
      .set(due.key, dueAt);
    return batch;
  }

  /** See `DurableQueue.listDelayed`. */
  async list(
    queue: string,
    options: { limit?: number; cursor?: string },
  ): Promise<{
    items: { item: QueuedItem<T>; dueAt: number }[];
    cursor: string | null;
  }> {
    const limit = options.limit ?? 100;
    const iter = this.kv.list<number>(
      { prefix: this.keys.of("due", queue) },
      { limit, cursor: options.cursor },
    );
    const index = await Array.fromAsync(iter);
    const items: { item: QueuedItem<T>; dueAt: number }[] = [];
    for (const e of await this.#records(queue, index)) {
      // Promoted between the two reads: not delayed any more.
      if (e.value === null) continue;
      const { dueAt, ...item } = e.value;
      // Waiting for a retry (it ran already): not a delayed event.
      if (item.attempt > 1) continue;
      items.push({ item, dueAt });
    }
    return {
      items,
      cursor: index.length === limit && iter.cursor ? iter.cursor : null,
    };
  }

  /**
   * The delayed items of one queue (appended delayed or waiting for a
   * retry), read through its due index: the delayed list is ordered by due
   * time across every queue, and one tenant's many delayed items must not
   * be read for another's stats.
   */
  async of(queue: string): Promise<Deno.KvEntry<Delayed<T>>[]> {
    const index = await Array.fromAsync(
      this.kv.list<number>({ prefix: this.keys.of("due", queue) }),
    );
    const out: Deno.KvEntry<Delayed<T>>[] = [];
    for (const e of await this.#records(queue, index)) {
      if (e.value !== null) out.push(e as Deno.KvEntry<Delayed<T>>);
    }
    return out;
  }

  /**
   * The delayed records of entries of a queue's due index, in order (null
   * where one was promoted since); a read names at most 10 keys.
   */
  async #records(
    queue: string,
    index: Deno.KvEntry<number>[],
  ): Promise<Deno.KvEntryMaybe<Delayed<T>>[]> {
    const out: Deno.KvEntryMaybe<Delayed<T>>[] = [];
    for (let i = 0; i < index.length; i += 10) {
      out.push(
        ...await this.records.getMany<Delayed<T>>(
          index.slice(i, i + 10).map((e) =>
            this.keys.delayed(e.value, queue, e.key[e.key.length - 1] as string)
          ),
        ),
      );
    }
    return out;
  }

  /** See `DurableQueue.promoteDue`. */
  async promoteDue(): Promise<number> {
    let moved = 0;
    const delayed = this.keys.all("delayed");
    const due = this.records.list<Delayed<T>>({
      start: delayed,
      end: [...delayed, this.now() + 1],
    });
    const lost = this.#repaired ? [] : this.records.list<Delayed<T>>({
      prefix: [...delayed, NaN],
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
          .delete(this.keys.due(item.queue, item.id))
          .set(
            this.keys.ready(item.queue, item.id, item.value),
            this.records.enc(item),
          );
        this.ledger.active(part, item.queue);
        if (parts.length >= PROMOTE_BATCH || !batch.fits(part)) await flush();
        batch.add(part);
        parts.push(part);
      }
    }
    await flush();
    return moved;
  }
}
