/**
 * Reads an event's `concurrency` in a package: a whole number (at most
 * that many executions of the event at once) or `{key, limit}` (that many
 * per value of the key path). See model/concurrency.ts.
 */
import { isScalar } from "yaml";
import { type Fields, join, quote } from "./_yaml_positions.ts";
import {
  compileKeyPath,
  type ConcurrencyDef,
  MAX_CONCURRENCY,
} from "./concurrency.ts";

const CONCURRENCY: [string[], string[]] = [["limit"], ["key"]];

/** An event's `concurrency`: undefined when absent or empty, null when broken. */
export function readConcurrency(
  e: Fields,
): ConcurrencyDef | undefined | null {
  const node = e.get("concurrency");
  if (node === undefined || (isScalar(node) && node.value === null)) {
    return undefined;
  }
  if (isScalar(node)) {
    // The short form: a limit for the event, whatever its items hold.
    const limit = e.int("concurrency", 1, MAX_CONCURRENCY);
    return limit === undefined || limit === null ? null : { limit };
  }
  const path = join(e.path, "concurrency");
  const c = e.ctx.fields(node, path, e.at("concurrency"), ...CONCURRENCY);
  if (!c) return null;
  const limit = c.int("limit", 1, MAX_CONCURRENCY);
  const key = c.str("key");
  let ok = limit !== undefined && limit !== null;
  if (key !== undefined) {
    try {
      compileKeyPath(key);
    } catch (err) {
      c.ctx.add(
        "structure",
        join(path, "key"),
        c.at("key"),
        `Invalid concurrency key ${quote(key)}: ${(err as Error).message}`,
      );
      ok = false;
    }
  } else if (c.has("key") && c.get("key") !== undefined) {
    ok = false; // str reported a value that is not a string
  }
  if (!ok) return null;
  return { ...(key !== undefined && { key }), limit: limit! };
}
