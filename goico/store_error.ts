/**
 * Store failures: the errors a KV write throws when the storage under it
 * cannot take writes (the disk is full, an I/O error, a read-only file).
 * They are not the caller's fault and pass once the operator acts, so they
 * are of kind `store_unavailable` (problem.ts answers 503 with a
 * `Retry-After`, never a 500), and background loops that meet one back off
 * instead of retrying at once.
 *
 * Deno KV reports SQLite's errors as plain `TypeError`s carrying SQLite's
 * message; `storeFailure` recognises them by that message.
 */
import { DomainError } from "./domain_error.ts";

/** What kind of store failure it is. */
export type StoreFailureReason = "full" | "io" | "readonly" | "busy";

/** SQLite's messages (through Deno KV) and what each means. */
const MESSAGES: [RegExp, StoreFailureReason][] = [
  [/database or disk is full|SQLITE_FULL|no space left on device/i, "full"],
  [/disk I\/O error|SQLITE_IOERR|unable to open database file/i, "io"],
  [/readonly database|read-only file system|SQLITE_READONLY/i, "readonly"],
  [/database is locked|SQLITE_BUSY/i, "busy"],
];

/** Seconds a client is asked to wait after a store failure. Default 5. */
export const STORE_RETRY_AFTER_S = 5;

/**
 * The store cannot take writes now (`store_unavailable`). `retryAfter`
 * says when to try again; nothing of the failed request was stored. The
 * store's own error is its `cause`.
 */
export class StoreUnavailableError extends DomainError {
  declare readonly retryAfter: number;
  constructor(
    readonly reason: StoreFailureReason,
    readonly storeMessage: string,
    retryAfter = STORE_RETRY_AFTER_S,
    options?: ErrorOptions,
  ) {
    super(
      "store_unavailable",
      reason === "full"
        ? `The store is full (${storeMessage}): nothing was stored; try again in ${retryAfter} s`
        : `The store is failing (${storeMessage}): nothing was stored; try again in ${retryAfter} s`,
      { store: reason === "full" ? "full" : "failing" },
      { ...options, retryAfter },
    );
  }
}

/**
 * The typed error for an error a store operation threw, or null when it is
 * not a store failure (a bug, a refused value, an oversized write).
 */
export function storeFailure(err: unknown): StoreUnavailableError | null {
  if (err instanceof StoreUnavailableError) return err;
  if (!(err instanceof Error) || err instanceof DomainError) return null;
  const message = err.message;
  for (const [pattern, reason] of MESSAGES) {
    if (pattern.test(message)) {
      return new StoreUnavailableError(reason, message, undefined, {
        cause: err,
      });
    }
  }
  return null;
}
