/**
 * How the executor retries store operations: a write over the store's
 * limits never succeeds (`isUnstorable`); other errors may pass
 * (`transient` tries again after a pause).
 */
import { KvLimitError } from "@jobico/goico";

/** Tries of a store operation that throws for a reason that may pass. */
export const TRANSIENT_TRIES = 6;

/** Waits 20 ms, then twice as long each next time (about 1.3 s in all). */
export const pause = (n: number): Promise<unknown> =>
  new Promise((r) => setTimeout(r, 20 * 2 ** Math.min(n, 6)));

/** `fn`, again after a pause when it throws for a reason that may pass. */
export async function transient<T>(fn: () => Promise<T>): Promise<T> {
  for (let n = 0;; n++) {
    try {
      return await fn();
    } catch (err) {
      if (isUnstorable(err) || n + 1 >= TRANSIENT_TRIES) throw err;
      await pause(n);
    }
  }
}

/**
 * A write over the store's limits, as a `WriteBatch` measures it or as the
 * store says: it never succeeds.
 */
export function isUnstorable(err: unknown): boolean {
  return err instanceof KvLimitError ||
    (err instanceof TypeError &&
      /too large|too many|exceeds/i.test(err.message));
}
