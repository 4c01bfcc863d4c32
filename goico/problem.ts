/**
 * The HTTP edge's one mapping from errors to `application/problem+json`
 * (RFC 9457): a domain error's kind (domain_error.ts) gives the status and
 * title, its message the detail, its `extra` the extra members and its
 * `retryAfter` the `Retry-After` header. Hono's `HTTPException` keeps its
 * status. Anything else is a 500 that hides its message.
 */
import { HTTPException } from "hono/http-exception";
import { DomainError, type ErrorKind } from "./domain_error.ts";

/** The status and title each kind of domain error answers with. */
export const PROBLEM_STATUS: Readonly<
  Record<ErrorKind, readonly [status: number, title: string]>
> = {
  invalid: [400, "Invalid request"],
  unauthenticated: [401, "Unauthorized"],
  forbidden: [403, "Forbidden"],
  not_found: [404, "Not found"],
  conflict: [409, "Conflict"],
  too_large: [413, "Payload too large"],
  unresolved: [422, "Unresolved references"],
  too_many: [429, "Too many requests"],
  store_unavailable: [503, "Store unavailable"],
};

/** The HTTP status an error answers with (500 for an unknown error). */
export function problemStatus(err: unknown): number {
  if (err instanceof DomainError) return PROBLEM_STATUS[err.kind][0];
  if (err instanceof HTTPException) return err.status;
  return 500;
}

/** The problem+json body of an error. Unknown errors become a 500 that hides internals. */
export function problemBody(
  err: unknown,
  instance?: string,
): Record<string, unknown> & { status: number } {
  if (err instanceof DomainError) {
    const [status, title] = PROBLEM_STATUS[err.kind];
    return {
      type: "about:blank",
      title,
      status,
      detail: err.message,
      ...(instance ? { instance } : {}),
      ...err.extra,
    };
  }
  if (err instanceof HTTPException) {
    return {
      type: "about:blank",
      title: "Request failed",
      status: err.status,
      detail: err.message,
      ...(instance ? { instance } : {}),
    };
  }
  return {
    type: "about:blank",
    title: "Internal server error",
    status: 500,
    detail: "The server failed to handle the request; see its log",
    ...(instance ? { instance } : {}),
  };
}

/** An `application/problem+json` response for an error. */
export function problemResponse(err: unknown, instance?: string): Response {
  const body = problemBody(err, instance);
  const retryAfter = err instanceof DomainError ? err.retryAfter : undefined;
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: retryAfter === undefined
      ? { "content-type": "application/problem+json" }
      : {
        "retry-after": String(retryAfter),
        "content-type": "application/problem+json",
      },
  });
}
