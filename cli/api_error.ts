import type { PackageIssue, Problem } from "./api_types.ts";

/** The platform answered with an error status (4xx/5xx). */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly status: number;
  /** The problem title, or the HTTP status text when the body had none. */
  readonly title: string;
  /** The problem detail, or the raw body text when it was not JSON. */
  readonly detail?: string;
  /** The problem `type` URI, when given. */
  readonly type?: string;
  /** The whole problem body (`{}` when the body was not JSON). */
  readonly body: Problem;
  /** The request that failed, e.g. `GET`, `/api/v1/tenants/demo/files`. */
  readonly request?: { method: string; path: string };
  /** `Retry-After` of the answer in seconds (429, 503), when given. */
  readonly retryAfter?: number;

  constructor(
    status: number,
    body: Problem,
    fallbackTitle = "",
    options: {
      request?: { method: string; path: string };
      retryAfter?: number;
    } = {},
  ) {
    const title = stringOr(body.title, fallbackTitle || `HTTP ${status}`);
    const detail = typeof body.detail === "string" ? body.detail : undefined;
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = typeof body.type === "string" ? body.type : undefined;
    this.body = body;
    this.request = options.request;
    this.retryAfter = options.retryAfter;
  }

  /** The package issues of a rejected deploy (400/422), if the body has any. */
  get issues(): PackageIssue[] {
    const issues = this.body.issues;
    return Array.isArray(issues)
      ? issues.filter((i): i is PackageIssue =>
        typeof i === "object" && i !== null && "message" in i
      )
      : [];
  }
}

/** The platform could not be reached at all (refused, DNS, TLS, bad URL). */
export class ConnectionError extends Error {
  readonly url: string;
  readonly reason: string;

  constructor(url: string, reason: string, options?: ErrorOptions) {
    super(`Cannot reach Jobico at ${url}: ${reason}`, options);
    this.name = "ConnectionError";
    this.url = url;
    this.reason = reason;
  }

  /** Builds the error from what `fetch` threw, keeping the useful part. */
  static from(url: string, error: unknown): ConnectionError {
    return new ConnectionError(url, fetchFailureReason(error), {
      cause: error,
    });
  }
}

/**
 * Deno reports `fetch failed` with the real reason in `cause`, e.g.
 * `error sending request for url (...): client error (Connect): tcp connect
 * error: Connection refused (os error 111)`; keep the part after the prefixes.
 */
export function fetchFailureReason(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.message) message = cause.message;
  return message
    .replace(/^error sending request for url \([^)]*\):\s*/, "")
    .replace(/^client error \([^)]*\):\s*/, "")
    .trim() || "fetch failed";
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}
