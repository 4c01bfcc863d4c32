/**
 * The dead letters of a `DurableQueue`: items that failed too often, moved
 * out of the queue (`deadLetter`, in the write that records the last
 * failure, checked against the item's lease like any acknowledgement) with
 * the last error, from where they can be listed, replayed (put back at
 * their place in the queue, failures reset) or purged. A queue's "dead"
 * counter follows them, so `stats` counts them in one read.
 */

import type { QueueKeys } from "./queue_keys.ts";
import type { QueueLedger } from "./queue_ledger.ts";
import type { QueueLeases } from "./queue_leases.ts";
import {
  KV_MAX_VALUE,
  type QueuedItem,
  type QueueRecords,
} from "./queue_records.ts";
import type { WriteBatch } from "./write_batch.ts";
import { WritePacker } from "./write_packer.ts";

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

/** Ends a dead letter's error that was cut to fit. */
const CUT = " [cut to fit]";

/** Moves a queue's failed items to its dead letters, and replays or purges them. */
export class DeadLetters<T> {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly keys: QueueKeys<T>,
    private readonly records: QueueRecords,
    private readonly ledger: QueueLedger<T>,
    private readonly leases: Pick<QueueLeases<T>, "check">,
    private readonly now: () => number,
  ) {}

  /** See `DurableQueue.deadLetter`. */
  deadLetter(
    batch: WriteBatch,
    item: QueuedItem<T>,
    error: string,
    ref?: string,
  ): WriteBatch {
    const ungated = this.ledger.ungate(batch, item);
    const letter: DeadLetter<T> = {
      item: { ...ungated, failures: (item.failures ?? 0) + 1 },
      error,
      failedAt: this.now(),
      ...(ref !== undefined && { ref }),
    };
    // The bound first (cheap); the exact size only for a letter near the limit.
    const codec = this.records.codec;
    let over = codec.size(letter) <= KV_MAX_VALUE
      ? 0
      : codec.exactSize(letter) - KV_MAX_VALUE;
    for (let kept = error; over > 0 && kept !== "";) {
      const each = codec.charBytes(letter.error);
      kept = kept.slice(0, Math.max(0, kept.length - Math.ceil(over / each)));
      letter.error = kept + CUT;
      over = codec.exactSize(letter) - KV_MAX_VALUE;
    }
    this.leases.check(batch, item);
    batch.delete(this.keys.inflight(item.queue, item.id));
    batch.set(this.keys.dead(item.queue, item.id), this.records.enc(letter));
    this.ledger.add(batch, item.queue, "out", 1);
    this.ledger.add(batch, item.queue, "dead", 1);
    return batch;
  }

  /** See `DurableQueue.listDead`. */
  async list(
    queue: string,
    options: { limit?: number; cursor?: string },
  ): Promise<{ letters: DeadLetter<T>[]; cursor: string | null }> {
    const limit = options.limit ?? 100;
    const iter = this.kv.list(
      { prefix: this.keys.of("dead", queue) },
      { limit, cursor: options.cursor },
    );
    const letters: DeadLetter<T>[] = [];
    for await (const e of iter) {
      letters.push(this.records.codec.decode(e.value) as DeadLetter<T>);
    }
    return {
      letters,
      cursor: letters.length === limit && iter.cursor ? iter.cursor : null,
    };
  }

  /** See `DurableQueue.replayDead`. */
  async replay(queue: string, ids?: string[]): Promise<string[]> {
    const replayed: string[] = [];
    const letters = await this.#letters(queue, ids);
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
          this.keys.ready(queue, item.id, item.value),
          this.records.enc(item),
        );
        this.ledger.add(part, queue, "in", 1);
        this.ledger.add(part, queue, "dead", -1);
        this.ledger.active(part, queue);
      });
    }
    await packer.flush();
    return replayed;
  }

  /** See `DurableQueue.purgeDead`. */
  async purge(
    queue: string,
    ids?: string[],
    also?: (batch: WriteBatch, item: QueuedItem<T>) => void,
  ): Promise<number> {
    const letters = await this.#letters(queue, ids);
    let purged = 0;
    const packer = new WritePacker<string>(this.kv, async (batch, some) => {
      if ((await batch.commit()).ok) purged += some.length;
    });
    for await (const e of letters) {
      await packer.add(e.value.item.id, (part) => {
        part.check(e).delete(e.key);
        this.ledger.add(part, queue, "dead", -1);
        also?.(part, e.value.item);
      });
    }
    await packer.flush();
    return purged;
  }

  /** A queue's dead letters: those whose ids are given, or all (read as they are listed). */
  async #letters(
    queue: string,
    ids?: string[],
  ): Promise<
    | Iterable<Deno.KvEntry<DeadLetter<T>>>
    | AsyncIterable<Deno.KvEntry<DeadLetter<T>>>
  > {
    if (!ids) {
      return this.records.list<DeadLetter<T>>({
        prefix: this.keys.of("dead", queue),
      });
    }
    // Each id once: a letter taken twice in one batch would be counted twice.
    const unique = [...new Set(ids)];
    const out: Deno.KvEntry<DeadLetter<T>>[] = [];
    for (let i = 0; i < unique.length; i += 10) {
      const got = await this.records.getMany<DeadLetter<T>>(
        unique.slice(i, i + 10).map((id) => this.keys.dead(queue, id)),
      );
      for (const e of got) {
        if (e.value) out.push(e as Deno.KvEntry<DeadLetter<T>>);
      }
    }
    return out;
  }
}
