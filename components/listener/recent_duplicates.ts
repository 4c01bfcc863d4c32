/**
 * Which tenants sent a duplicate lately: an Idempotency-Key or a signature
 * that was accepted before. The listener uses it to choose, per tenant,
 * how a request's once-record (idempotency_key.ts, webhook_credentials.ts)
 * is checked:
 *
 * - **No duplicate lately (the usual case): no read.** The request goes on
 *   and its write checks that the record is absent, in the same atomic
 *   that writes it with the items. A duplicate's write is refused; only
 *   then is its record read, and the first answer given.
 * - **A duplicate lately: the record is read first**, and a duplicate is
 *   answered before its body is read.
 *
 * Why not always the first: a refused write takes its whole group commit
 * with it (goico's GroupCommit then commits the group's other parts one by
 * one, about a dozen commits instead of one). A sender that retries in
 * bulk, or replays signatures, would take the listener's group commits
 * apart. So one duplicate switches its tenant to reading first for
 * `windowMs`; each duplicate found meanwhile extends it. Another tenant's
 * duplicates change nothing for this one.
 */

/** How long a tenant's records are read first after a duplicate, by default: 10 s. */
export const DUPLICATE_WINDOW_MS = 10_000;

/** Tenants remembered at most (the oldest are forgotten first). */
const MAX_TENANTS = 10_000;

export class RecentDuplicates {
  readonly #last = new Map<string, number>();
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(
    options: { windowMs?: number; now?: () => number } = {},
  ) {
    this.#windowMs = options.windowMs ?? DUPLICATE_WINDOW_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Whether `tenant`'s once-records are read before its requests go on. */
  readFirst(tenant: string): boolean {
    const at = this.#last.get(tenant);
    if (at === undefined) return false;
    if (this.#now() - at < this.#windowMs) return true;
    this.#last.delete(tenant);
    return false;
  }

  /** A duplicate of `tenant` was found. */
  found(tenant: string): void {
    this.#last.delete(tenant);
    this.#last.set(tenant, this.#now());
    if (this.#last.size > MAX_TENANTS) {
      this.#last.delete(this.#last.keys().next().value!);
    }
  }
}
