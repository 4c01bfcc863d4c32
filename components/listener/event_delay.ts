/**
 * The delay step of the listener: a request may put its items off with
 * `?delay=` or `?runAt=` (see delivery_time.ts for what each takes and its
 * bounds). A bad value is a 400 naming the parameter, before the body is
 * read; a good one sets `dueAt`, which the write step stores the items
 * under (delayed queue records) and answers as `runAt`.
 */
import type { Step } from "../http/pipeline.ts";
import { DEFAULT_MAX_DELAY_MS, deliveryTime } from "./delivery_time.ts";
import type { ListenerEnv } from "./listener_env.ts";

export interface EventDelayOptions {
  /**
   * The furthest a request may put its items off, in ms.
   *
   * @default {DEFAULT_MAX_DELAY_MS}
   */
  maxDelayMs?: number;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * Sets `dueAt` when the request asks for a delay (nothing when it asks for
 * none, or for now).
 *
 * @throws {ValidationError} a malformed, out-of-range or repeated value, or both given (400)
 */
export function eventDelay(options: EventDelayOptions = {}): Step<ListenerEnv> {
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const now = options.now ?? Date.now;
  return function eventDelay(c, next) {
    // A request without a query string pays for nothing more.
    if (c.req.url.includes("?")) {
      const due = deliveryTime(
        (name) => c.req.queries(name),
        now(),
        maxDelayMs,
      );
      if (due !== undefined) c.set("dueAt", due);
    }
    return next();
  };
}
