/**
 * `GET /api/v1/tenants/{tenant}/schedules` (tenant-scoped like every route
 * under /api/v1/tenants/{tenant}): each scheduled event of the tenant's
 * current packages, with its pattern, its next tick (computed now) and the
 * last tick handled, from the schedule's cursor in the store (the same one
 * every process's scheduler moves, see schedule_cursor.ts). A cursor left
 * by an older pattern or time zone is not shown: the changed schedule
 * starts anew.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import type { Schedule, ScheduleList } from "../../api/mod.ts";
import { checkName } from "../http/check_name.ts";
import { keys } from "../model/keys.ts";
import { compileSchedule, nextTick } from "../model/schedule.ts";
import { json, PATH, problems, ref } from "../openapi/schemas.ts";
import {
  declaredEvents,
  type PackageStore,
} from "../packages/package_store.ts";
import { sameSchedule, type ScheduleCursor } from "./schedule_cursor.ts";

/** What {@linkcode scheduleApp} needs. */
export interface ScheduleRoutesOptions {
  kv: Deno.Kv;
  store: PackageStore;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

export function scheduleApp(options: ScheduleRoutesOptions): Hono {
  const { kv, store } = options;
  const now = options.now ?? Date.now;
  const app = new Hono();

  app.get("/api/v1/tenants/:tenant/schedules", DOCS.list, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const heads = await store.list(tenant);
    const versions = (await Promise.all(
      heads.map((h) => store.version(tenant, h.id, h.version)),
    )).filter((v) => v !== null);
    const t = now();
    const schedules = await Promise.all(
      versions.flatMap((v) =>
        declaredEvents(v.package).flatMap((ev) => {
          const def = ev.schedule;
          if (!def) return [];
          return [(async (): Promise<Schedule> => {
            let next: number | null = null;
            try {
              next = nextTick(compileSchedule(def), t);
            } catch {
              // Checked at deploy; a time zone this runtime lacks: no tick.
            }
            const cursor = (await kv.get<ScheduleCursor>(
              keys.scheduleCursor(tenant, ev.id),
            )).value;
            const last = cursor && sameSchedule(cursor, def) ? cursor : null;
            return {
              event: ev.id,
              package: v.package.id,
              version: v.version,
              queue: ev.supplierqueue,
              cron: def.cron,
              timezone: def.timezone ?? "UTC",
              next: next === null ? null : new Date(next).toISOString(),
              lastTick: last ? new Date(last.last).toISOString() : null,
              lastSent: last?.sent ?? false,
            };
          })()];
        })
      ),
    );
    schedules.sort((a, b) =>
      a.package.localeCompare(b.package) || a.event.localeCompare(b.event)
    );
    const out: ScheduleList = { schedules };
    return c.json(out);
  });

  return app;
}

const DOCS = {
  list: describeRoute({
    operationId: "listSchedules",
    tags: ["queues"],
    summary: "The scheduled events, their next tick and the last one sent",
    description:
      "Each event with a `schedule` in the tenant's current packages: its " +
      "cron pattern and time zone, the next tick, and the last tick the " +
      "platform handled (by any process) and whether its item was queued.",
    parameters: [PATH.tenant],
    responses: {
      200: json("The schedules", ref("ScheduleList")),
      ...problems(400, 401, 403, [404, "No such tenant"]),
    },
  }),
};
