/**
 * Schedules: the scheduled events of a tenant's current packages, each
 * with its next tick and the last one the platform handled.
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { closed, int, nullable, ref, time } from "./_kit.ts";
import { Name } from "./names.ts";

/** One scheduled event in `GET .../schedules`. */
export const Schedule = closed({
  event: Name("The event the platform sends"),
  package: Name("Its package"),
  version: int("The package's current version", 1),
  queue: Name("The queue the event feeds"),
  cron: Type.String({ description: "The cron pattern" }),
  timezone: Type.String({ description: "The IANA time zone (UTC if none)" }),
  next: nullable(time("The next tick"), "The next tick; null: no more"),
  lastTick: nullable(
    time("The last tick handled"),
    "The last tick handled, by any process; null: none yet (or the schedule changed since)",
  ),
  lastSent: Type.Boolean({
    description:
      "Whether that tick's item was queued (false: skipped, its queue was full, or no tick yet)",
  }),
});
export type Schedule = Static<typeof Schedule>;

/** `GET /api/v1/tenants/{t}/schedules`. */
export const ScheduleList = closed({
  schedules: Type.Array(ref("Schedule", Schedule), {
    description: "By package, then event",
  }),
});
export type ScheduleList = Static<typeof ScheduleList>;
