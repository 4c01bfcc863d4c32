/**
 * Queues and their dead letters.
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { closed, int, nullable, ref, time } from "./_kit.ts";
import { API_LIMITS } from "./limits.ts";
import { CURSOR_PATTERN, Id19, Name, NAME_PATTERN } from "./names.ts";
import { PageLimit } from "./execution_schemas.ts";

/** One queue in `GET .../queues`: what it holds and has done. */
export const Queue = closed({
  id: Name("The queue id"),
  depth: int("Events waiting, including those waiting for a retry", 0),
  inFlight: int("Events being run", 0),
  delayed: int("Of depth, the events waiting for a retry", 0),
  dead: int("Dead letters", 0),
  processed: int("Events done since the queue was made", 0),
  oldestAgeMs: int("Age of the oldest event waiting or running", 0),
});
export type Queue = Static<typeof Queue>;

/** `GET /api/v1/tenants/{t}/queues`. */
export const QueueList = closed({ queues: Type.Array(ref("Queue", Queue)) });
export type QueueList = Static<typeof QueueList>;

/** One delayed event in `GET .../queues/{queue}/delayed`. */
export const DelayedEvent = closed({
  id: Id19("The event id"),
  event: Name("Its event"),
  runAt: time("When it runs"),
});
export type DelayedEvent = Static<typeof DelayedEvent>;

/** `GET .../queues/{queue}/delayed`: a page, in the order they were accepted. */
export const DelayedPage = closed({
  delayed: Type.Array(DelayedEvent),
  cursor: nullable(
    Type.String(),
    "Pass as `cursor` for the next page; null on the last",
  ),
});
export type DelayedPage = Static<typeof DelayedPage>;

/** One dead letter in `GET .../queues/{queue}/dead`. */
export const DeadLetter = closed({
  id: Name("What replay and purge take"),
  eventId: Id19("The id the listener answered with"),
  event: Name("The event"),
  package: Name("The package"),
  version: int("The package version it was accepted under", 1),
  attempt: int(undefined, 1),
  failures: int(undefined, 0),
  error: Type.String({ description: "The last failure's reason" }),
  failedAt: time("When it was dead-lettered"),
  executionId: nullable(Type.String(), "The last execution's id"),
  data: Type.Unknown({ description: "The event item" }),
});
export type DeadLetter = Static<typeof DeadLetter>;

/** `GET /api/v1/tenants/{t}/queues/{q}/dead`. */
export const DeadLetterPage = closed({
  dead: Type.Array(ref("DeadLetter", DeadLetter), {
    description: "Oldest first",
  }),
  cursor: nullable(
    Type.String(),
    "Pass as `cursor` for the next page; null on the last",
  ),
});
export type DeadLetterPage = Static<typeof DeadLetterPage>;

/** The ids of a replay or purge: at least one, at most `API_LIMITS.deadLetterIds`. */
export const DeadLetterIdList = Type.Array(
  Type.String({ pattern: NAME_PATTERN }),
  { minItems: 1, maxItems: API_LIMITS.deadLetterIds },
);

/** A replay or purge body. */
export const DeadLetterIds = closed(
  { ids: Type.Optional(DeadLetterIdList) },
  "Which dead letters; no body or `{}` means every one",
);
export type DeadLetterIds = Static<typeof DeadLetterIds>;

/** `POST .../dead/replay`. */
export const Replayed = closed({
  replayed: int("How many went back on the queue", 0),
  ids: Type.Array(Type.String(), { description: "Those that did" }),
  notFound: Type.Array(Type.String(), {
    description: "Ids that were not dead letters",
  }),
});
export type Replayed = Static<typeof Replayed>;

/** `DELETE .../dead`. */
export const Purged = closed({
  purged: int("How many dead letters were removed", 0),
});
export type Purged = Static<typeof Purged>;

/** The query of `GET .../queues/{q}/dead`. */
export const DeadLetterQuery = Type.Object({
  limit: Type.Optional(PageLimit),
  cursor: Type.Optional(Type.String({ pattern: CURSOR_PATTERN })),
});
export type DeadLetterQuery = Static<typeof DeadLetterQuery>;
