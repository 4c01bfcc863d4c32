/**
 * The webhook: `POST /events/{tenant}/{event}`.
 *
 * The listener checks a body's shape by hand for speed
 * (components/listener/event_items.ts) with the same limits;
 * event_schemas_test.ts holds the two to the same answers.
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { closed, int, oneOf, time } from "./_kit.ts";
import { API_LIMITS } from "./limits.ts";
import { Id19, Name } from "./names.ts";

/** An event body: `{"data": [item, ...]}`. */
export const EventBody = Type.Object({
  data: Type.Array(Type.Unknown(), {
    minItems: 1,
    maxItems: API_LIMITS.eventItems,
    description:
      "The items; each must match the event's schema, and all are queued in one write",
  }),
});
export type EventBody = Static<typeof EventBody>;

/** `POST /events/{tenant}/{event}`: one event id per item. */
export const Accepted = closed({
  accepted: int("How many items were queued", 1),
  ids: Type.Array(Id19(), {
    description:
      "One event id per item, in order (a debounced item: the id of the queued item it was merged into)",
  }),
  runAt: Type.Optional(
    time(
      "When the items run, when `delay` or `runAt`, a throttling rate limit or a debounce put them off (the latest)",
    ),
  ),
});
export type Accepted = Static<typeof Accepted>;

/** `DELETE /api/v1/tenants/{t}/events/{event}/items/{id}`. */
export const Cancelled = closed({
  id: Id19("The event id that was cancelled"),
  event: Name("Its event"),
  state: oneOf(
    ["waiting", "delayed"] as const,
    "Where it was: waiting in its queue, or delayed",
  ),
  runAt: Type.Optional(time("When a delayed event would have run")),
});
export type Cancelled = Static<typeof Cancelled>;
