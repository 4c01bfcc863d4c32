/**
 * The records of a `DurableQueue` (items waiting, in flight, delayed, dead
 * letters) and how they are read and written: as the queue's `codec` says,
 * as they are (V8's serializer, the default) or as JSON bytes
 * (`jsonRecords`, several times cheaper to write and read); a queue reads
 * records of either form.
 */

import { KV_LIMITS } from "./kv_limits.ts";
import type { RecordCodec } from "./record_codec.ts";

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
   * Leases of it that expired without it being marked started (see
   * "Crash loops" in durable_queue.ts): its consumer died or stalled while
   * it waited or ran. Not failures; cleared when it is retried or replayed.
   */
  lapses?: number;
  /**
   * Of `failures`, those where its consumer stopped while it ran (see
   * "Crash loops" in durable_queue.ts).
   */
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

/** The record of an item in flight. */
export interface InFlight<T> extends QueuedItem<T> {
  leaseUntil: number;
  /** Marked by `start`: an expired lease counts as a crash. */
  started?: boolean;
}

/** The record of a delayed item (appended delayed, or waiting for a retry). */
export interface Delayed<T> extends QueuedItem<T> {
  dueAt: number;
}

/** Bytes of one KV value, as the KV measures it. */
export const KV_MAX_VALUE = KV_LIMITS.valueBytes;
/**
 * The most bytes an item may take stored (as its codec stores it; see
 * `itemBytes`): a KV value holds 65,536, and the queue adds up to 256 to an
 * item as it moves (its lease, counts, due time).
 */
export const MAX_ITEM_BYTES = KV_MAX_VALUE - 256;

/** Reads and encodes a queue's records through its codec. */
export class QueueRecords {
  constructor(
    private readonly kv: Deno.Kv,
    readonly codec: RecordCodec,
  ) {}

  /** The KV value that stores a record. */
  enc(record: unknown): unknown {
    return this.codec.encode(record);
  }

  /** An entry read from the KV with its record decoded (key and versionstamp kept for checks). */
  dec<R>(e: Deno.KvEntry<unknown>): Deno.KvEntry<R> {
    return {
      key: e.key,
      value: this.codec.decode(e.value) as R,
      versionstamp: e.versionstamp,
    };
  }

  /** Entries of a list, decoded. */
  async *list<R>(
    selector: Deno.KvListSelector,
    options?: Deno.KvListOptions,
  ): AsyncGenerator<Deno.KvEntry<R>> {
    for await (const e of this.kv.list(selector, options)) {
      yield this.dec<R>(e);
    }
  }

  /**
   * Entries of a list, decoded, each with the KV value it was read as
   * (for `extend`).
   */
  async *listStored<R>(
    selector: Deno.KvListSelector,
    options?: Deno.KvListOptions,
  ): AsyncGenerator<{ entry: Deno.KvEntry<R>; stored: unknown }> {
    for await (const e of this.kv.list(selector, options)) {
      yield { entry: this.dec<R>(e), stored: e.value };
    }
  }

  /**
   * The KV value that stores `record`, read as `stored` (and not changed
   * since), with `members` added: the codec's `extend`.
   */
  extend(
    stored: unknown,
    record: object,
    members: Record<string, unknown>,
  ): unknown {
    return this.codec.extend(stored, record, members);
  }

  /** `getMany`, decoded. */
  async getMany<R>(keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<R>[]> {
    return (await this.kv.getMany(keys)).map((e) =>
      e.versionstamp === null ? e as Deno.KvEntryMaybe<R> : this.dec<R>(e)
    );
  }
}
