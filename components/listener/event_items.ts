/**
 * The shape of an event body, as Hono's `validator`: an object with a
 * non-empty `data` list of at most `maxItems` items (413 beyond: a smaller
 * request may pass). What each item holds is the schema step's.
 */
import { TooLargeError, ValidationError } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import { API_LIMITS } from "../../api/mod.ts";
import type { ListenerEnv } from "./listener_env.ts";

/**
 * Items of one request by default: the API's limit (the `maxItems` of its
 * `EventBody` schema; event_items_test.ts holds this check to that schema).
 */
export const DEFAULT_MAX_ITEMS = API_LIMITS.eventItems;

export interface EventItemsOptions {
  /**
   * Most items in one request.
   *
   * @default {500}
   */
  maxItems?: number;
}

/**
 * Sets `items` from `body` (jsonBody).
 *
 * @throws {ValidationError} no `data` list, or an empty one (400)
 * @throws {TooLargeError} more than `maxItems` items (413)
 */
export function eventItems(options: EventItemsOptions = {}): Step<ListenerEnv> {
  const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
  return function eventItems(c, next) {
    const body = c.get("body");
    const data = (body as { data?: unknown })?.data;
    if (typeof body !== "object" || body === null || !Array.isArray(data)) {
      throw new ValidationError(
        'Event body must be an object with a "data" list: {"data": [item, ...]}',
      );
    }
    if (data.length === 0) {
      throw new ValidationError(
        'The "data" list is empty: send at least one item',
      );
    }
    if (data.length > maxItems) {
      throw new TooLargeError(
        `The "data" list has ${data.length} items; the limit is ${maxItems} per request`,
      );
    }
    c.set("items", data);
    return next();
  };
}
