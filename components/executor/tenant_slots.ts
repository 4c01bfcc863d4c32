/**
 * A per-tenant concurrency limit: at most `limit` executions of one tenant
 * hold a sandbox Worker at once, so no tenant can take the whole pool.
 * Waiters of a tenant are served in arrival order.
 */
export class TenantSlots {
  readonly #held = new Map<string, number>();
  readonly #waiting = new Map<string, (() => void)[]>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Tenant concurrency must be a positive integer, got ${limit}`,
      );
    }
  }

  /** Waits for a slot of `tenant`; the returned function gives it back (once). */
  async acquire(tenant: string): Promise<() => void> {
    const held = this.#held.get(tenant) ?? 0;
    if (held < this.limit) this.#held.set(tenant, held + 1);
    else {
      await new Promise<void>((resolve) => {
        const list = this.#waiting.get(tenant) ?? [];
        list.push(resolve);
        this.#waiting.set(tenant, list);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release(tenant);
    };
  }

  /** Slots a tenant holds now. */
  held(tenant: string): number {
    return this.#held.get(tenant) ?? 0;
  }

  #release(tenant: string): void {
    const list = this.#waiting.get(tenant);
    const next = list?.shift();
    if (list && list.length === 0) this.#waiting.delete(tenant);
    if (next) return next(); // The slot passes on: the count stays.
    const held = (this.#held.get(tenant) ?? 1) - 1;
    if (held <= 0) this.#held.delete(tenant);
    else this.#held.set(tenant, held);
  }
}
