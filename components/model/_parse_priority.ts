/**
 * Reads an event's `priority` in a package: `high`, `normal` (what an event
 * without one has) or `low`. Items of a higher priority are leased before
 * older ones of a lower one, which age so they are not starved (see
 * goico/queue_priority.ts).
 */
import { isScalar } from "yaml";
import { PRIORITIES, type Priority } from "@jobico/goico";
import { type Fields, join, quote } from "./_yaml_positions.ts";

/** An event's `priority`: undefined when absent or empty, null when broken. */
export function readPriority(e: Fields): Priority | undefined | null {
  const node = e.get("priority");
  if (node === undefined || (isScalar(node) && node.value === null)) {
    return undefined;
  }
  const value = isScalar(node) ? node.value : undefined;
  const priority = PRIORITIES.find((p) => p === value);
  if (priority) return priority;
  e.ctx.add(
    "structure",
    join(e.path, "priority"),
    e.at("priority"),
    `Invalid priority ${
      typeof value === "string"
        ? quote(value)
        : `(got ${e.ctx.describe(e.ctx.deref(node))})`
    }: use "high", "normal" (the default) or "low"`,
  );
  return null;
}
