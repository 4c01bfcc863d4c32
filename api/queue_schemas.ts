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

/** A concurrency gate held now: its key value and the slots in use. */
export const SlotUse = closed({
  key: nullable(
    Type.String(),
    "The key value (`sha256:` and its digest for a long one); null: one gate for the event, or items where the key path finds nothing",
  ),
  held: int("Executions of this key in flight now", 1),
});
export type SlotUse = Static<typeof SlotUse>;

/** What one event of the queue is limited to, and where it stands. */
export const EventLimits = closed({
  event: Name("The event"),
  package: Name("Its package"),
  version: int("The package's current version (whose limits are shown)", 1),
  concurrency: Type.Optional(closed({
    limit: int("Executions at once per key value", 1),
    key: Type.Optional(Type.String({ description: "The key path" })),
    inUse: Type.Array(ref("SlotUse", SlotUse), {
      description: "The keys with executions in flight, in key order",
    }),
    truncated: Type.Boolean({ description: "More keys are in use" }),
  })),
  rateLimit: Type.Optional(closed({
    limit: int("Items per window and key", 1),
    period: Type.String({ description: "The window" }),
    mode: Type.String({ description: "throttle or reject" }),
    key: Type.Optional(Type.String({ description: "The key path" })),
    windows: Type.Array(
      closed({
        key: nullable(Type.String(), "The key value; null: no key"),
        used: int("Items the window took", 0),
        from: time("When the window opens"),
        until: time("When it closes"),
      }),
      { description: "Each key's last window taken that is not over" },
    ),
    truncated: Type.Boolean({ description: "More keys have windows open" }),
  })),
  debounce: Type.Optional(closed({
    period: Type.String({ description: "The window" }),
    keep: Type.String({ description: "last or first" }),
    key: Type.Optional(Type.String({ description: "The key path" })),
    pending: Type.Array(
      closed({
        key: nullable(Type.String(), "The key value; null: no key"),
        id: Id19("The delayed item that will run"),
        runAt: time("When it runs, unless another item comes first"),
      }),
      { description: "The keys with a debounced item waiting" },
    ),
    truncated: Type.Boolean({ description: "More keys wait" }),
  })),
});
export type EventLimits = Static<typeof EventLimits>;

/** `GET .../queues/{queue}/limits`: the flow limits of the queue's events and their use now, across every process. */
export const QueueLimits = closed({
  queue: Name("The queue"),
  tenant: closed({
    limit: int(
      "Executions of the tenant at once (maxConcurrency); 0: no limit",
      0,
    ),
    held: int("Executions of the tenant in flight under it now", 0),
  }, "The tenant's own concurrency limit"),
  events: Type.Array(ref("EventLimits", EventLimits), {
    description:
      "The events of the tenant's current packages that feed the queue and have a limit",
  }),
  runtimes: Type.Array(
    closed({
      package: Name("The package"),
      runtime: Name("The runtime"),
      limit: int("Executions of it at once", 1),
      held: int("In flight now", 0),
    }),
    { description: "The runtimes of those events with a concurrency limit" },
  ),
});
export type QueueLimits = Static<typeof QueueLimits>;
