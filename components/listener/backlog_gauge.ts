/**
 * Backpressure for producers of a durable queue: admits a batch only while
 * the queue's backlog (items appended and not yet acknowledged or
 * dead-lettered) stays within a limit, without a KV read per request.
 *
 * The backlog read is cached per queue for `maxAgeMs` (at most 100 ms). On
 * top of the cached read, the gauge counts what this process admitted since
 * the read started (committed, or reserved and still being committed), so
 * its own traffic never makes it accept more than the limit: the estimate
 * can only miss what OTHER processes appended during the last `maxAgeMs`,
 * which is the most a fresh counter could refuse of what it accepts.
 * Acknowledgements meanwhile make the estimate too high, never too low, so
 * a batch that the estimate refuses is checked again against a fresh read
 * before it is refused: a refusal is never stale.
 */

/** Where the backlog comes from (`DurableQueue.backlog`). */
export interface BacklogSource {
  backlog(queue: string): Promise<number>;
}

/** An admitted batch: say whether its write committed. */
export interface Admission {
  /** Call once, after the write: `true` when the items were appended. */
  done(committed: boolean): void;
}

/** A refused batch: the backlog it was refused on. */
export interface Refusal {
  /** A fresh read, plus what this process is appending meanwhile. */
  backlog: number;
  limit: number;
}

/**
 * The bound a {@linkcode BacklogGauge} admits against, and how fresh its
 * reads are.
 *
 * @example
 * ```ts
 * const gauge = new BacklogGauge(queue, { limit: 100_000, maxAgeMs: 50 });
 * ```
 */
export interface BacklogGaugeOptions {
  /** Items a queue may hold. */
  limit: number;
  /**
   * How long a backlog read is reused, in ms (at most 100).
   *
   * @default {100}
   */
  maxAgeMs?: number;
  /**
   * A monotonic clock in ms.
   *
   * @default {performance.now}
   */
  now?: () => number;
}

interface Reading {
  backlog: number;
  /** When the read started. */
  at: number;
  /** `committed` of the queue when the read started. */
  committedBefore: number;
}

interface QueueState {
  reading?: Reading;
  refreshing?: Promise<Reading>;
  /** Items this process appended to the queue, ever. */
  committed: number;
  /** Items admitted whose write has not finished. */
  reserved: number;
}

const MAX_QUEUES = 10_000;

export class BacklogGauge {
  readonly limit: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #queues = new Map<string, QueueState>();

  constructor(
    private readonly source: BacklogSource,
    options: BacklogGaugeOptions,
  ) {
    this.limit = options.limit;
    this.#maxAgeMs = Math.min(100, Math.max(0, options.maxAgeMs ?? 100));
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Admits `n` items to `queue`, or refuses them when the queue would hold
   * more than the limit. An admission must be ended with `done`.
   */
  async admit(queue: string, n: number): Promise<Admission | Refusal> {
    const state = this.#state(queue);
    let reading = state.reading;
    if (!reading || this.#now() - reading.at > this.#maxAgeMs) {
      reading = await this.#refresh(state, queue);
    }
    // From here to the reservation there is no await: concurrent requests
    // see each other's reservations.
    if (this.#estimate(state, reading) + n > this.limit) {
      reading = await this.#refresh(state, queue);
      const backlog = this.#estimate(state, reading);
      if (backlog + n > this.limit) return { backlog, limit: this.limit };
    }
    state.reserved += n;
    let ended = false;
    return {
      done: (committed: boolean) => {
        if (ended) return;
        ended = true;
        state.reserved -= n;
        if (committed) state.committed += n;
      },
    };
  }

  #estimate(state: QueueState, r: Reading): number {
    return r.backlog + (state.committed - r.committedBefore) + state.reserved;
  }

  #state(queue: string): QueueState {
    let s = this.#queues.get(queue);
    if (!s) {
      if (this.#queues.size >= MAX_QUEUES) this.#dropIdle();
      s = { committed: 0, reserved: 0 };
      this.#queues.set(queue, s);
    }
    return s;
  }

  /** One read at a time per queue; callers that arrive meanwhile share it. */
  #refresh(state: QueueState, queue: string): Promise<Reading> {
    if (state.refreshing) return state.refreshing;
    const at = this.#now();
    const committedBefore = state.committed;
    const p = this.source.backlog(queue).then((backlog) => {
      const r = { backlog, at, committedBefore };
      // A slower, older read never replaces a newer one.
      if (!state.reading || state.reading.at <= at) state.reading = r;
      return r;
    }).finally(() => {
      if (state.refreshing === p) state.refreshing = undefined;
    });
    state.refreshing = p;
    return p;
  }

  /** Forgets queues with nothing under way, so the map stays bounded. */
  #dropIdle(): void {
    for (const [name, s] of this.#queues) {
      if (s.reserved === 0 && !s.refreshing) this.#queues.delete(name);
    }
  }
}

/**
 * The `Retry-After` of a refusal, in seconds: 1 s for every thirtieth of the
 * limit the queue (with the refused items) is over it, from 1 to 30 s. A
 * queue just at its limit asks for a retry in a second; one far over it
 * (replays or chained results filled it) asks clients to stay away for 30 s.
 */
export function retryAfterSeconds(
  backlog: number,
  items: number,
  limit: number,
): number {
  const over = backlog + items - limit;
  if (!(limit > 0) || !Number.isFinite(limit)) return 30;
  return Math.min(30, Math.max(1, Math.ceil((30 * over) / limit)));
}
