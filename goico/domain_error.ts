/**
 * The errors that domain code (stores, parsers, checks) throws: each says
 * what kind of failure it is (`kind`), in words of the domain, never an
 * HTTP status. One boundary, problem.ts, maps the kinds to HTTP
 * `application/problem+json` (RFC 9457); code that is not behind HTTP
 * (a CLI, a background loop) reads the kind or the class.
 *
 * Each takes `ErrorOptions` last: a `cause` keeps the error it stands for
 * (a store's failure, a parser's) for the log, never for the client.
 */

/**
 * What went wrong, as the domain sees it:
 *
 * - `invalid`: the input is malformed or fails a rule;
 * - `unresolved`: well formed, but names things that do not exist;
 * - `unauthenticated`: credentials are missing or wrong;
 * - `forbidden`: the credentials do not allow this;
 * - `not_found`: the thing named does not exist;
 * - `conflict`: the change conflicts with what is stored;
 * - `too_large`: larger than a limit (a smaller one may pass);
 * - `too_many`: more than a limit holds now (of requests, items, files);
 * - `store_unavailable`: the store cannot take writes (not the caller's fault).
 */
export type ErrorKind =
  | "invalid"
  | "unresolved"
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "too_many"
  | "store_unavailable";

/** The base of the domain's errors. */
export class DomainError extends Error {
  /**
   * Seconds after which trying again may succeed, when waiting helps
   * (whole seconds, at least 0).
   */
  readonly retryAfter: number | undefined;
  constructor(
    /** What kind of failure it is. */
    readonly kind: ErrorKind,
    message: string,
    /** What the error names beyond its message (e.g. `issues`, `limit`). */
    readonly extra: Record<string, unknown> = {},
    options?: ErrorOptions & { retryAfter?: number },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.retryAfter = options?.retryAfter === undefined
      ? undefined
      : Math.max(0, Math.ceil(options.retryAfter));
  }
}

/** The input is malformed or does not pass validation (`invalid`). */
export class ValidationError extends DomainError {
  constructor(
    message: string,
    extra: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super("invalid", message, extra, options);
  }
}

/** The input is well formed but names things that do not resolve (`unresolved`). */
export class UnresolvedError extends DomainError {
  constructor(
    message: string,
    extra: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super("unresolved", message, extra, options);
  }
}

/** Credentials are missing or wrong (`unauthenticated`). */
export class UnauthenticatedError extends DomainError {
  constructor(
    message = "Missing or wrong bearer token",
    options?: ErrorOptions,
  ) {
    super("unauthenticated", message, {}, options);
  }
}

/** The credentials are right but do not allow this (`forbidden`). */
export class ForbiddenError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super("forbidden", message, {}, options);
  }
}

/** The thing named does not exist (`not_found`). */
export class NotFoundError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super("not_found", message, {}, options);
  }
}

/** The change conflicts with the current state (`conflict`). */
export class ConflictError extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super("conflict", message, {}, options);
  }
}

/** The input is larger than a limit; a smaller one may pass (`too_large`). */
export class TooLargeError extends DomainError {
  constructor(
    message: string,
    extra: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super("too_large", message, extra, options);
  }
}

/**
 * More than a limit holds now (`too_many`): a queue's backlog, a tenant's
 * files. `retryAfter` (seconds, rounded up) when waiting helps.
 */
export class TooManyError extends DomainError {
  constructor(
    message: string,
    retryAfter: number | undefined,
    extra: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super("too_many", message, extra, { ...options, retryAfter });
  }
}
