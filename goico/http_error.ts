/**
 * Typed errors that domain code throws. One boundary (`problemResponse`)
 * maps them to HTTP `application/problem+json` (RFC 9457).
 */

/** The base of every error that maps to an HTTP status. */
export class HttpError extends Error {
  /** Extra members of the problem body (e.g. `issues`). */
  readonly extra: Record<string, unknown>;
  /** Extra response headers (e.g. `retry-after`). */
  readonly headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.extra = extra;
  }
}

/** The request is malformed or does not pass validation (400). */
export class ValidationError extends HttpError {
  constructor(message: string, extra: Record<string, unknown> = {}) {
    super(400, "Invalid request", message, extra);
  }
}

/** The request is well formed but names things that do not resolve (422). */
export class UnprocessableError extends HttpError {
  constructor(message: string, extra: Record<string, unknown> = {}) {
    super(422, "Unresolved references", message, extra);
  }
}

/** Credentials are missing or wrong (401). */
export class UnauthorizedError extends HttpError {
  constructor(message = "Missing or wrong bearer token") {
    super(401, "Unauthorized", message);
  }
}

/** The credentials are right but do not allow this (403). */
export class ForbiddenError extends HttpError {
  constructor(message: string) {
    super(403, "Forbidden", message);
  }
}

/** The thing named in the path does not exist (404). */
export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, "Not found", message);
  }
}

/** The change conflicts with the current state (409). */
export class ConflictError extends HttpError {
  constructor(message: string) {
    super(409, "Conflict", message);
  }
}

/** The body is larger than allowed (413). */
export class PayloadTooLargeError extends HttpError {
  constructor(message: string) {
    super(413, "Payload too large", message);
  }
}

/**
 * The client sends more than the server takes now (429). `retryAfter` (whole
 * seconds) becomes the `Retry-After` header.
 */
export class TooManyRequestsError extends HttpError {
  readonly retryAfter: number;
  constructor(
    message: string,
    retryAfter: number,
    extra: Record<string, unknown> = {},
  ) {
    super(429, "Too many requests", message, extra);
    this.retryAfter = Math.max(0, Math.ceil(retryAfter));
    this.headers["retry-after"] = String(this.retryAfter);
  }
}

/** The problem+json body of an error. Unknown errors become a 500 that hides internals. */
export function problemBody(
  err: unknown,
  instance?: string,
): Record<string, unknown> & { status: number } {
  if (err instanceof HttpError) {
    return {
      type: "about:blank",
      title: err.title,
      status: err.status,
      detail: err.message,
      ...(instance ? { instance } : {}),
      ...err.extra,
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
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: {
      ...(err instanceof HttpError ? err.headers : {}),
      "content-type": "application/problem+json",
    },
  });
}
