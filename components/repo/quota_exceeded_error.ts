import { HttpError } from "@jobico/goico";

/**
 * A tenant would store more than its quota allows. The problem body names
 * the quota, its limit, the tenant's usage and what was asked for.
 *
 * - `bytes`: 413 Payload Too Large. The body is larger than what the tenant
 *   may still store; a smaller one may pass.
 * - `files`: 429 Too Many Requests, without Retry-After: the tenant has too
 *   many files, and waiting does not help; deleting one or a larger quota
 *   does. (Not 507: a full quota is the client's limit, not the server's
 *   failure, and 5xx would count against the platform's health.)
 */
export class QuotaExceededError extends HttpError {
  constructor(
    readonly quota: "files" | "bytes",
    message: string,
    detail: { tenant: string; limit: number; usage: number; requested: number },
  ) {
    super(
      quota === "bytes" ? 413 : 429,
      quota === "bytes" ? "Payload too large" : "Too many requests",
      message,
      { quota, ...detail },
    );
  }
}
