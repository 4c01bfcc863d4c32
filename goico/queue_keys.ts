/**
 * The key layout of a `DurableQueue`: every item is a record under the
 * queue's prefix.
 *
 *   [...prefix, "ready",    queue, id]        -> item, waiting (priority
 *       normal, the default)
 *   [...prefix, "ready",    queue, band, id]  -> item, waiting, of priority
 *       high (band 0) or low (band 2): see queue_priority.ts
 *   [...prefix, "inflight", queue, id]        -> item with a lease, being handled
 *   [...prefix, "delayed",  dueAt, queue, id] -> item waiting for a retry,
 *       or appended to wait until a time (see queue_delayed.ts)
 *   [...prefix, "due",      queue, id]        -> the due time of a delayed
 *       item (appended delayed or waiting for a retry): found by id
 *       (`cancel`), and counted per queue without reading other queues
 *   [...prefix, "dead",     queue, id]        -> dead letter: item and last
 *       error (see dead_letters.ts)
 *   [...prefix, "active",   queue]            -> marker: the queue may hold items
 *   [...prefix, "epoch",    queue]            -> changes whenever a lease of the
 *       queue is taken back (expired) or the queue is dropped
 *   [...prefix, "count",    queue, name]      -> KvU64 counters: "in" (appended),
 *       "out" (acknowledged or dead-lettered), "acked", "dead"
 *   [...prefix, "gate",     name]             -> KvU64: items in flight that hold
 *       the concurrency gate `name` (see queue_gates.ts)
 *
 * One builder per kind of record; nothing else spells a queue's keys.
 */

import { type Priority, PRIORITY_BAND } from "./queue_priority.ts";
import { SameKeys } from "./same_keys.ts";

/** A queue's KvU64 counters (see the layout above). */
export type Counter = "in" | "out" | "acked" | "dead";

/** The kinds of record listed per queue: `[...prefix, kind, queue, ...]`. */
export type QueueState =
  | "ready"
  | "inflight"
  | "dead"
  | "due"
  | "count"
  | "active"
  | "epoch";

/** The keys of one queue's bookkeeping. */
interface Bookkeeping {
  counts: Record<Counter, Deno.KvKey>;
  active: Deno.KvKey;
  epoch: Deno.KvKey;
}

/** The keys of a queue's records under one prefix (see the layout above). */
export class QueueKeys<T> {
  /**
   * The bands items may wait in: all three when items have priorities,
   * only normal's (1) when they do not.
   */
  readonly bands: readonly number[];
  /**
   * The keys of each queue's counters, marker and epoch, made once per
   * queue: a write batch recognizes the same key arrays at once when it
   * merges the sums and sets that appends and acknowledgements share.
   */
  readonly #bookkeeping = new SameKeys<Bookkeeping>((queue) => {
    const count = (name: Counter) => [...this.prefix, "count", queue, name];
    return {
      counts: {
        in: count("in"),
        out: count("out"),
        acked: count("acked"),
        dead: count("dead"),
      },
      active: [...this.prefix, "active", queue],
      epoch: [...this.prefix, "epoch", queue],
    };
  });
  readonly #gates = new SameKeys((name) => [...this.prefix, "gate", name]);

  constructor(
    readonly prefix: Deno.KvKey,
    private readonly priorityOf?: (value: T) => Priority | undefined,
  ) {
    this.bands = priorityOf ? [0, 1, 2] : [1];
  }

  /** The key of an item in flight. */
  inflight(queue: string, id: string): Deno.KvKey {
    return [...this.prefix, "inflight", queue, id];
  }

  /** The key of a dead letter. */
  dead(queue: string, id: string): Deno.KvKey {
    return [...this.prefix, "dead", queue, id];
  }

  /** The key of a delayed item's record, ordered by due time across queues. */
  delayed(dueAt: number, queue: string, id: string): Deno.KvKey {
    return [...this.prefix, "delayed", dueAt, queue, id];
  }

  /** The key of a delayed item's due time, found by id. */
  due(queue: string, id: string): Deno.KvKey {
    return [...this.prefix, "due", queue, id];
  }

  /** The band of an item's value: 1 (normal) when it names none. */
  band(value: T): number {
    const p = this.priorityOf?.(value);
    return p === undefined ? 1 : PRIORITY_BAND[p] ?? 1;
  }

  /** Where an item waits in its queue's ready list: in the band of its priority. */
  ready(queue: string, id: string, value: T): Deno.KvKey {
    const band = this.band(value);
    return band === 1
      ? [...this.prefix, "ready", queue, id]
      : [...this.prefix, "ready", queue, band, id];
  }

  /** Every key where an item may wait ready: normal, high and low band. */
  readyAnyBand(queue: string, id: string): Deno.KvKey[] {
    const base = [...this.prefix, "ready", queue];
    return [
      [...base, id],
      [...base, PRIORITY_BAND.high, id],
      [...base, PRIORITY_BAND.low, id],
    ];
  }

  /** The ready list of one band of a queue. */
  readyBand(queue: string, band: number): Deno.KvListSelector {
    const base = [...this.prefix, "ready", queue];
    // Normal items sit at string keys, which sort before every number.
    return band === 1
      ? { start: base, end: [...base, -Infinity] }
      : { prefix: [...base, band] };
  }

  /** The prefix of one kind of a queue's records. */
  of(state: QueueState, queue: string): Deno.KvKey {
    return [...this.prefix, state, queue];
  }

  /** The prefix of one kind of record of every queue. */
  all(state: QueueState | "delayed"): Deno.KvKey {
    return [...this.prefix, state];
  }

  /** A counter of a queue (the same array each time). */
  count(queue: string, name: Counter): Deno.KvKey {
    return this.#of(queue).counts[name];
  }

  /** A queue's active marker (the same array each time). */
  active(queue: string): Deno.KvKey {
    return this.#of(queue).active;
  }

  /** A queue's epoch (the same array each time). */
  epoch(queue: string): Deno.KvKey {
    return this.#of(queue).epoch;
  }

  /**
   * The key of a concurrency gate's counter (see queue_gates.ts), the same
   * array each time: a gated item's lease and outcome each sum it.
   */
  gate(name: string): Deno.KvKey {
    return this.#gates.get(name);
  }

  /** The keys of a queue's bookkeeping (the same arrays each time). */
  #of(queue: string): Bookkeeping {
    return this.#bookkeeping.get(queue);
  }
}
