/**
 * Counts the execution streams open, per tenant and in all, and refuses a
 * stream past either limit with a 429 that names the limit and says when to
 * try again. A slot is held from the request that opens a stream until the
 * stream ends, however it ends.
 */
import { TooManyError } from "@jobico/goico";

export interface StreamSlotLimits {
  /** Streams open at once in this process. */
  maxStreams: number;
  /** Streams one tenant may hold open at once. */
  maxStreamsPerTenant: number;
  /** The `Retry-After` of a refused stream, in seconds. */
  retryAfterSeconds: number;
}

export class StreamSlots {
  #total = 0;
  readonly #perTenant = new Map<string, number>();
  constructor(readonly limits: StreamSlotLimits) {}

  /** Streams open now. */
  get open(): number {
    return this.#total;
  }

  /** Streams a tenant holds open now. */
  openFor(tenant: string): number {
    return this.#perTenant.get(tenant) ?? 0;
  }

  /**
   * Takes a slot for a stream of `tenant`. Returns the function that gives
   * it back (calling it again does nothing).
   *
   * @throws {TooManyError} when the tenant or the process has as many streams as it may
   */
  acquire(tenant: string): () => void {
    const { maxStreams, maxStreamsPerTenant, retryAfterSeconds } = this.limits;
    const mine = this.openFor(tenant);
    if (mine >= maxStreamsPerTenant) {
      throw new TooManyError(
        `Tenant "${tenant}" has ${mine} execution streams open, the most one tenant may have (${maxStreamsPerTenant}): close one, or retry later`,
        retryAfterSeconds,
        { limit: "maxStreamsPerTenant", max: maxStreamsPerTenant, open: mine },
      );
    }
    if (this.#total >= maxStreams) {
      throw new TooManyError(
        `The server has ${this.#total} execution streams open, the most it serves at once (${maxStreams}): retry later`,
        retryAfterSeconds,
        { limit: "maxStreams", max: maxStreams, open: this.#total },
      );
    }
    this.#total++;
    this.#perTenant.set(tenant, mine + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#total--;
      const left = this.openFor(tenant) - 1;
      if (left > 0) this.#perTenant.set(tenant, left);
      else this.#perTenant.delete(tenant);
    };
  }
}
