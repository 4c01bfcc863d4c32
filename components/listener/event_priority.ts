/**
 * The priority step of the listener: a request may set its items'
 * priority with `?priority=high|normal|low`, over the event's own (its
 * package's `priority`, `normal` when it has none). Items of a higher
 * priority are leased before older ones of a lower one, which age so they
 * are not starved (see goico/queue_priority.ts). A bad value is a 400
 * naming the parameter, before the body is read.
 */
import { isPriority, PRIORITIES, ValidationError } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import type { ListenerEnv } from "./listener_env.ts";

/** Characters of a bad value shown back in the error, at most. */
const SHOWN = 40;

/**
 * Sets `priority` when the request names one.
 *
 * @throws {ValidationError} an unknown, empty or repeated value (400)
 */
export function eventPriority(): Step<ListenerEnv> {
  return function eventPriority(c, next) {
    // A request without a query string pays for nothing more.
    if (c.req.url.includes("?")) {
      const values = c.req.queries("priority");
      if (values !== undefined && values.length > 0) {
        if (values.length > 1) {
          throw invalid(`Pass ?priority= once, not ${values.length} times`);
        }
        const [value] = values;
        if (!isPriority(value)) {
          const shown = value.length > SHOWN
            ? `${value.slice(0, SHOWN)}…`
            : value;
          throw invalid(
            `Invalid priority ${JSON.stringify(shown)}: use ${
              PRIORITIES.join(", ")
            } (the event's own when absent)`,
          );
        }
        c.set("priority", value);
      }
    }
    return next();
  };
}

function invalid(message: string): ValidationError {
  return new ValidationError(message, {
    errors: [{ parameter: "priority", message }],
  });
}
