/**
 * Execution records, as the recorder lists and streams them.
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { closed, int, nullable, oneOf, ref, time } from "./_kit.ts";
import { API_LIMITS } from "./limits.ts";
import { Id19, ID19_PATTERN, Name, NAME_PATTERN } from "./names.ts";

/** An execution's outcome. */
export const ExecutionStatus = oneOf(
  ["ok", "error", "failed"] as const,
  "`ok`: code 0; `error`: a non-zero code; `failed`: a trap, timeout or host failure",
);
export type ExecutionStatus = Static<typeof ExecutionStatus>;

/** A log line's level (zerolog's names). */
export const LogLevel = oneOf(
  ["debug", "info", "warn", "error", "fatal", "panic", "none"] as const,
);
export type LogLevel = Static<typeof LogLevel>;

/** One line an execution left. */
export const ExecutionLog = closed({
  level: LogLevel,
  message: Type.String(),
  source: oneOf(["module", "stdout", "stderr", "host"] as const),
});
export type ExecutionLog = Static<typeof ExecutionLog>;

/** For a chained result event: the execution whose outcome it is. */
export const ChainedFrom = closed({
  event: Name("The job event whose outcome this is"),
  eventId: Id19(),
  executionId: Id19(),
  code: nullable(Type.Integer()),
  error: Type.Optional(
    Type.String({ description: "Why it failed, when it did" }),
  ),
}, "For a chained result event: the execution it comes from");
export type ChainedFrom = Static<typeof ChainedFrom>;

/** The record of one execution of a Jobicolet. */
export const Execution = closed({
  id: Id19("Newest first in lists"),
  eventId: Id19("The id the listener answered with"),
  tenant: Name("The tenant"),
  package: Name("The package"),
  version: Type.Optional(int(
    "The version of the package that ran it (the one the event was " +
      "accepted under); absent on records older than this field",
    1,
  )),
  event: Name("The event"),
  queue: Name("The queue it came from"),
  status: ExecutionStatus,
  code: nullable(Type.Integer()),
  result: nullable(Type.String()),
  error: nullable(Type.String()),
  logs: Type.Array(ExecutionLog),
  attempt: int("1 for the first run", 1),
  startedAt: time("When it started"),
  durationMs: Type.Number({ minimum: 0 }),
  chainedFrom: Type.Optional(ChainedFrom),
  input: Type.Optional(Type.Unknown({
    description:
      "The item it ran with (what a re-run sends again); absent when the " +
      "record could not hold it, and on records older than this field",
  })),
  rerunOf: Type.Optional(
    Id19("For a re-run: the execution whose input it ran with"),
  ),
});
export type Execution = Static<typeof Execution>;

/** `POST /api/v1/tenants/{t}/executions/{id}/rerun`. */
export const Rerun = closed({
  accepted: int("1: the item was queued", 1),
  ids: Type.Array(Id19(), { description: "The new event id" }),
  rerunOf: Id19("The execution whose input it sends"),
  runAt: Type.Optional(
    time(
      "When it runs, when the event's throttling rate limit or debounce put it off",
    ),
  ),
});
export type Rerun = Static<typeof Rerun>;

/** `GET /api/v1/tenants/{t}/executions`. */
export const ExecutionPage = closed({
  executions: Type.Array(ref("Execution", Execution), {
    description: "Newest first",
  }),
  cursor: nullable(
    Type.String(),
    "Pass as `cursor` for the next page; null on the last",
  ),
});
export type ExecutionPage = Static<typeof ExecutionPage>;

/** `limit` of a paged list. */
export const PageLimit = Type.Integer({
  minimum: API_LIMITS.page.min,
  maximum: API_LIMITS.page.max,
  default: API_LIMITS.page.default,
});

/** The query of `GET /api/v1/tenants/{t}/executions` (the stream takes the filters). */
export const ExecutionQuery = Type.Object({
  limit: Type.Optional(PageLimit),
  cursor: Type.Optional(Type.String({ pattern: ID19_PATTERN })),
  event: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
  package: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
  status: Type.Optional(ExecutionStatus),
});
export type ExecutionQuery = Static<typeof ExecutionQuery>;
