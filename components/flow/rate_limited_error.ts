/**
 * A request refused by an event's rate limit (model/flow_limits.ts): a
 * 429 with `Retry-After`, counted apart from the queue's backpressure.
 */
import { TooManyError } from "@jobico/goico";

export class RateLimitedError extends TooManyError {
  override name = "RateLimitedError";
}
