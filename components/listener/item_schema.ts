/**
 * The schema check of the listener: each item against the event's compiled
 * JSON Schema, every error of every item listed (a 400 naming the first).
 * The tenant's patterns run under one deadline per request
 * (`withPatternDeadline`): an item they cannot check in time is a 400
 * naming it, not a listener held for seconds.
 */
import { ValidationError } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import { inSpanSync } from "../observe/tracing.ts";
import { describeSchemaError } from "../repo/describe_schema_error.ts";
import {
  PatternWorkError,
  withPatternDeadline,
} from "../repo/linear_regexp.ts";
import type { ListenerEnv } from "./listener_env.ts";

export interface ItemSchemaOptions {
  /**
   * Time the schema patterns of one request may take, in ms.
   *
   * @default {250}
   */
  validationMs?: number;
}

/**
 * Errors listed in a refusal; the message says how many there were in all.
 * An item of 32,000 wrong values made a 21 MB answer of 384,000 errors.
 */
export const MAX_LISTED_ERRORS = 100;

/** One schema error of an item, in the problem's `errors`. */
export interface ItemError {
  item: number;
  path: string;
  message: string;
}

/**
 * Checks `items` (eventItems) against `route`'s schema (eventRoute).
 *
 * @throws {ValidationError} an item does not match, or cannot be checked in time (400)
 */
export function itemSchema(options: ItemSchemaOptions = {}): Step<ListenerEnv> {
  const validationMs = options.validationMs ?? 250;
  return function itemSchema(c, next) {
    const route = c.get("route");
    const data = c.get("items");
    const schema = route.event.schema.schemaref;
    const errors: ItemError[] = [];
    let total = 0;
    let at = 0;
    try {
      // A tenant's patterns on long strings cannot hold the listener long.
      inSpanSync("jobico.validate", () => ({
        "jobico.tenant": route.tenant,
        "jobico.event": route.event.id,
        "jobico.schema": schema,
        "jobico.items": data.length,
      }), (span) => {
        withPatternDeadline(validationMs, () => {
          for (; at < data.length; at++) {
            if (route.validate(data[at])) continue;
            const found = route.validate.errors ?? [];
            total += found.length;
            for (const e of found) {
              if (errors.length >= MAX_LISTED_ERRORS) break;
              errors.push({ item: at, ...describeSchemaError(e) });
            }
          }
        });
        span.setAttribute("jobico.invalid_items", errors.length);
      });
    } catch (err) {
      if (!(err instanceof PatternWorkError)) throw err;
      throw new ValidationError(
        `Item ${at} of "data" cannot be checked against schema "${schema}": ${err.message}`,
        { errors: [{ item: at, path: "", message: err.message }] },
        { cause: err },
      );
    }
    if (errors.length > 0) {
      const first = errors[0];
      throw new ValidationError(
        `Item ${first.item} of "data" does not match schema "${schema}": ` +
          `${first.path} ${first.message}` +
          (total > 1 ? ` (and ${total - 1} more)` : ""),
        {
          errors,
          ...(total > errors.length && { errorCount: total }),
        },
      );
    }
    return next();
  };
}
