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
import { closed, int } from "./_kit.ts";
import { API_LIMITS } from "./limits.ts";
import { Id19 } from "./names.ts";

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
  ids: Type.Array(Id19(), { description: "One event id per item, in order" }),
});
export type Accepted = Static<typeof Accepted>;
