/**
 * `GET /api/v1/tenants/{tenant}/queues/{queue}/limits` (tenant-scoped like
 * every route under /api/v1/tenants/{tenant}): the flow limits of the
 * events that feed a queue in the tenant's current packages, and where
 * they stand now across every process of the store:
 *
 * - `concurrency`: the keys with executions in flight and how many (the
 *   gate counters of executor/concurrency_gates.ts), the runtimes' gates,
 *   and the tenant's own `maxConcurrency` gate;
 * - `rateLimit`: each key's last window taken that is not over (a
 *   throttled key's windows may be taken ahead), from the states
 *   flow/flow_plan.ts keeps;
 * - `debounce`: the keys whose debounced item waits, and when it runs.
 *
 * The limits shown are those of the current versions; items accepted
 * under an older version keep that version's. Each list shows at most
 * MAX_LISTED keys (`truncated` says there are more).
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { type DurableQueue, listGates, NotFoundError } from "@jobico/goico";
import type { EventLimits, QueueLimits } from "../../api/mod.ts";
import { checkName } from "../http/check_name.ts";
import type { EventItem } from "../model/event_item.ts";
import { durationMs } from "../model/flow_limits.ts";
import type { EventDef } from "../model/job_package.ts";
import { keys } from "../model/keys.ts";
import { queueStorageName, tenantQueuesPrefix } from "../model/queue_ref.ts";
import { json, PATH, problems, ref } from "../openapi/schemas.ts";
import type { PackageStore } from "../packages/package_store.ts";
import type { TenantPolicies } from "../tenants/tenant_policies.ts";
import { tenantGateName } from "../executor/concurrency_gates.ts";
import type { RateState } from "./rate_window.ts";

/** Keys listed per limit, at most. */
export const MAX_LISTED = 100;
/** Stored states read per limit, at most, to find them. */
const MAX_SCANNED = 1_000;

/** What {@linkcode queueLimitsApp} needs. */
export interface QueueLimitsOptions {
  kv: Deno.Kv;
  store: PackageStore;
  queue: DurableQueue<EventItem>;
  policies: TenantPolicies;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

export function queueLimitsApp(options: QueueLimitsOptions): Hono {
  const { kv, store, queue, policies } = options;
  const now = options.now ?? Date.now;
  const app = new Hono();
  const gateKey = (name: string) => queue.gateKey(name);

  app.get(
    "/api/v1/tenants/:tenant/queues/:queue/limits",
    DOCS.limits,
    async (c) => {
      const tenant = checkName("tenant", c.req.param("tenant"));
      const id = checkName("queue id", c.req.param("queue"));
      const heads = await store.list(tenant);
      const versions = (await Promise.all(
        heads.map((h) => store.version(tenant, h.id, h.version)),
      )).filter((v) => v !== null);
      const declared = versions.some((v) =>
        v.package.queues.some((q) => q.id === id)
      );
      if (
        !declared &&
        !(await queue.queueNames(tenantQueuesPrefix(tenant))).includes(
          queueStorageName({ tenant, queue: id }),
        )
      ) {
        throw new NotFoundError(`Tenant "${tenant}" has no queue "${id}"`);
      }
      const events: Promise<EventLimits>[] = [];
      const runtimes: Promise<QueueLimits["runtimes"][number]>[] = [];
      const t = now();
      for (const v of versions) {
        const pkg = v.package;
        const used = new Set<string>();
        for (const ev of eventsOf(pkg.jobs)) {
          if (ev.supplierqueue !== id) continue;
          used.add(ev.runtime);
          if (!ev.concurrency && !ev.rateLimit && !ev.debounce) continue;
          events.push(eventLimits(tenant, pkg.id, v.version, ev, t));
        }
        for (const rt of pkg.runtimes) {
          if (rt.concurrency === undefined || !used.has(rt.id)) continue;
          const name = `${tenant}/${pkg.id}/r/${rt.id}`;
          const limit = rt.concurrency;
          runtimes.push(
            queue.gateCounts([name]).then((m) => ({
              package: pkg.id,
              runtime: rt.id,
              limit,
              held: m.get(name)?.held ?? 0,
            })),
          );
        }
      }
      const tenantGate = tenantGateName(tenant);
      const [policy, counts] = await Promise.all([
        policies.get(tenant),
        queue.gateCounts([tenantGate]),
      ]);
      const out: QueueLimits = {
        queue: id,
        tenant: {
          limit: policy.quotas.maxConcurrency,
          held: counts.get(tenantGate)?.held ?? 0,
        },
        events: await Promise.all(events),
        runtimes: await Promise.all(runtimes),
      };
      return c.json(out);
    },
  );

  /** Every event a package's jobs declare, results included. */
  function* eventsOf(
    jobs: { event: EventDef; result?: { ok?: EventDef; error?: EventDef } }[],
  ): Generator<EventDef> {
    for (const j of jobs) {
      yield j.event;
      if (j.result?.ok) yield j.result.ok;
      if (j.result?.error) yield j.result.error;
    }
  }

  async function eventLimits(
    tenant: string,
    pkg: string,
    version: number,
    ev: EventDef,
    t: number,
  ): Promise<EventLimits> {
    const out: EventLimits = { event: ev.id, package: pkg, version };
    if (ev.concurrency) {
      const prefix = `${tenant}/${pkg}/e/${ev.id}`;
      const { gates, truncated } = await listGates(kv, gateKey, prefix, {
        max: MAX_LISTED,
        scan: MAX_SCANNED,
      });
      out.concurrency = {
        limit: ev.concurrency.limit,
        ...(ev.concurrency.key !== undefined && { key: ev.concurrency.key }),
        inUse: gates.flatMap((g) => {
          // `{prefix}` alone, `{prefix}!`, `{prefix}={value}`, `{prefix}#{sha}`.
          const rest = g.name.slice(prefix.length);
          if (rest !== "" && !"!=#".includes(rest[0])) return []; // another event
          const key = rest === "" || rest === "!"
            ? null
            : rest[0] === "="
            ? rest.slice(1)
            : `sha256:${rest.slice(1)}`;
          return [{ key, held: g.held }];
        }),
        truncated,
      };
    }
    if (ev.rateLimit) {
      const def = ev.rateLimit;
      const p = durationMs(def.period);
      const windows: NonNullable<EventLimits["rateLimit"]>["windows"] = [];
      const truncated = await scanStates(
        keys.flowState(tenant, ev.id, "rate", "").slice(0, -1),
        (k, s: RateState) => {
          // A window that is over, or counted in another period: none open.
          if (s.p !== p || (s.w + 1) * p <= t) return false;
          windows.push({
            key: def.key === undefined ? null : k,
            used: s.n,
            from: new Date(s.w * p).toISOString(),
            until: new Date((s.w + 1) * p).toISOString(),
          });
          return true;
        },
      );
      out.rateLimit = {
        limit: def.limit,
        period: def.period,
        mode: def.mode ?? "throttle",
        ...(def.key !== undefined && { key: def.key }),
        windows,
        truncated,
      };
    }
    if (ev.debounce) {
      const def = ev.debounce;
      const pending: NonNullable<EventLimits["debounce"]>["pending"] = [];
      const truncated = await scanStates(
        keys.flowState(tenant, ev.id, "debounce", "").slice(0, -1),
        (k, r: { id: string; queue: string; dueAt: number }) => {
          if (r.dueAt <= t) return false;
          pending.push({
            key: def.key === undefined ? null : k,
            id: r.id,
            runAt: new Date(r.dueAt).toISOString(),
          });
          return true;
        },
      );
      out.debounce = {
        period: def.period,
        keep: def.keep ?? "last",
        ...(def.key !== undefined && { key: def.key }),
        pending,
        truncated,
      };
    }
    return out;
  }

  /**
   * Calls `take` on the states under `prefix` until MAX_LISTED were taken
   * or MAX_SCANNED read; true when there may be more.
   */
  async function scanStates<S>(
    prefix: Deno.KvKey,
    take: (key: string, state: S) => boolean,
  ): Promise<boolean> {
    let read = 0;
    let taken = 0;
    for await (
      const e of kv.list<S>({ prefix }, { limit: MAX_SCANNED + 1 })
    ) {
      if (++read > MAX_SCANNED || taken >= MAX_LISTED) return true;
      if (take(String(e.key[e.key.length - 1]), e.value)) taken++;
    }
    return false;
  }

  return app;
}

const DOCS = {
  limits: describeRoute({
    operationId: "queueLimits",
    tags: ["queues"],
    summary: "The flow limits of a queue's events, and their use now",
    description:
      "For each event of the tenant's current packages that feeds the " +
      "queue and has a `concurrency`, `rateLimit` or `debounce`: the " +
      "limit, and where it stands now across every process (the keys " +
      "with executions in flight, each key's open rate window, the " +
      `debounced items waiting; at most ${MAX_LISTED} keys each). Also ` +
      "the runtimes' concurrency and the tenant's `maxConcurrency`.",
    parameters: [PATH.tenant, PATH.queue],
    responses: {
      200: json("The limits", ref("QueueLimits")),
      ...problems(400, 401, 403, [404, "No such tenant or queue"]),
    },
  }),
};
