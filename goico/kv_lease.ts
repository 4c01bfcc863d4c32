/**
 * A lease kept in the store, so that some work runs in at most one process
 * at a time. A holder takes it when it is free or expired and renews it
 * while it works; each atomic of the guarded work carries `check()`, so a
 * holder whose lease was taken over (it stalled past the expiry) has its
 * writes refused instead of racing the new holder.
 */

/** What the store holds at the lease's key. */
export interface LeaseValue {
  holder: string;
  /** When it expires, in ms since the epoch. */
  until: number;
}

/**
 * Who holds a {@linkcode KvLease} and for how long.
 *
 * @example
 * ```ts
 * const lease = new KvLease(kv, ["retention", "lease"], {
 *   holder: crypto.randomUUID(),
 *   ttlMs: 60_000,
 * });
 * ```
 */
export interface KvLeaseOptions {
  /** Who takes it (a process name). */
  holder: string;
  /**
   * How long a taking or a renewal lasts, in ms.
   *
   * @default {30000}
   */
  ttlMs?: number;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

export class KvLease {
  readonly holder: string;
  readonly #ttl: number;
  readonly #now: () => number;
  /** Our entry while we hold it. */
  #held: { versionstamp: string; until: number } | null = null;

  constructor(
    private readonly kv: Deno.Kv,
    readonly key: Deno.KvKey,
    options: KvLeaseOptions,
  ) {
    this.holder = options.holder;
    this.#ttl = options.ttlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Takes the lease, or renews it when held; false when another holder has
   * it and it has not expired.
   */
  async acquire(): Promise<boolean> {
    const e = await this.kv.get<LeaseValue>(this.key);
    const now = this.#now();
    const ours = this.#held !== null &&
      e.versionstamp === this.#held.versionstamp;
    if (e.value && !ours && e.value.until > now) {
      this.#held = null;
      return false;
    }
    const value: LeaseValue = { holder: this.holder, until: now + this.#ttl };
    const res = await this.kv.atomic().check(e).set(this.key, value).commit();
    this.#held = res.ok
      ? { versionstamp: res.versionstamp, until: value.until }
      : null;
    return res.ok;
  }

  /** Renews the lease once half its time is gone; false when it was lost. */
  async renew(): Promise<boolean> {
    if (!this.#held) return false;
    if (this.#held.until - this.#now() > this.#ttl / 2) return true;
    return await this.acquire();
  }

  /**
   * The check that the lease is still ours, for every atomic of the work it
   * guards (it fails once another holder took it over).
   */
  check(): Deno.AtomicCheck {
    return {
      key: this.key,
      // No entry ever has the zero versionstamp: the check fails.
      versionstamp: this.#held?.versionstamp ?? "00000000000000000000",
    };
  }

  /** Whether this holder has the lease (as of its last take or renewal). */
  get held(): boolean {
    return this.#held !== null;
  }

  /** Gives the lease up, so another may take it at once. */
  async release(): Promise<void> {
    if (!this.#held) return;
    await this.kv.atomic().check(this.check()).delete(this.key).commit();
    this.#held = null;
  }

  /** Who holds the lease now, and until when; null when nobody does. */
  async current(): Promise<LeaseValue | null> {
    const e = await this.kv.get<LeaseValue>(this.key);
    return e.value && e.value.until > this.#now() ? e.value : null;
  }
}
