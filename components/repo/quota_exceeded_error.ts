import { DomainError } from "@jobico/goico";

/**
 * A tenant would store more than its quota allows. `extra` names the quota,
 * its limit, the tenant's usage and what was asked for.
 *
 * - `bytes`: `too_large` (413). The body is larger than what the tenant may
 *   still store; a smaller one may pass.
 * - `files`: `too_many` (429), without `retryAfter`: the tenant has too
 *   many files, and waiting does not help; deleting one or a larger quota
 *   does. (Not 507: a full quota is the client's limit, not the server's
 *   failure, and 5xx would count against the platform's health.)
 */
export class QuotaExceededError extends DomainError {
  constructor(
    readonly quota: "files" | "bytes",
    message: string,
    detail: { tenant: string; limit: number; usage: number; requested: number },
  ) {
    super(
      quota === "bytes" ? "too_large" : "too_many",
      message,
      { quota, ...detail },
    );
  }
}
