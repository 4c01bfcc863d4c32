/**
 * The platform's HTTP side: the service's own routes (/healthz, /meta,
 * /metrics), authentication and the tenant guards, then the routes of each
 * component that runs here, and last the API description of them all.
 */
import type { Hono } from "hono";
import { except } from "hono/combine";
import { serviceApp } from "@jobico/goico";
import { ctlApp } from "../ctl/ctl_routes.ts";
import { queueApp } from "../ctl/queue_routes.ts";
import { recorderApp } from "../executions/recorder_routes.ts";
import { flowApp } from "../flow/flow_routes.ts";
import { queueLimitsApp } from "../flow/queue_limits_routes.ts";
import { tenantGuard } from "../http/authenticator.ts";
import { knownTenant } from "../http/known_tenant.ts";
import { listenerApp } from "../listener/listener.ts";
import { WebhookAuth } from "../listener/webhook_auth.ts";
import { metricsApp } from "../observe/metrics_routes.ts";
import { OPENAPI_PATH, openApiApp } from "../openapi/openapi_routes.ts";
import { scheduleApp } from "../scheduler/schedule_routes.ts";
import { repoApp } from "../repo/repo_routes.ts";
import { retentionApp } from "../retention/retention_routes.ts";
import { TenantStorage } from "../retention/tenant_storage.ts";
import { deleteTenant } from "../tenants/delete_tenant.ts";
import { tenantApp } from "../tenants/tenant_routes.ts";
import { VERSION } from "../version.ts";
import type { PlatformContext } from "./platform_context.ts";
import type { PlatformStores } from "./platform_stores.ts";
import type { PlatformWorkers } from "./platform_workers.ts";

export function platformApp(
  ctx: PlatformContext,
  s: PlatformStores,
  w: PlatformWorkers,
): Hono {
  const { options, enabled } = ctx;
  const { authenticator } = s;
  const app = serviceApp({
    name: "jobico",
    version: VERSION,
    logger: ctx.logger,
    accessLog: options.accessLog ?? "errors",
    meta: async () => ({
      components: [...enabled],
      definitionsGeneration: s.definitions.generation,
      // A deploy has reached this process when seen >= the latest read
      // after it (jobico deploy --wait).
      definitionsSeen: s.definitions.seen,
      definitionsLatest: await s.definitions.latest().catch(() => null),
      ...(w.pool && {
        sandbox: { workers: w.pool.size, busy: w.pool.busy },
      }),
      limits: ctx.limits,
    }),
    // A write, not a read: a full disk still reads (see StoreHealth).
    health: async () => ({ kv: await s.storeHealth.check() }),
    onStoreFailure: (err) => s.storeHealth.observe(err),
    // Without a token, /meta says only what a health check needs.
    publicMeta: () => options.instance ? { instance: options.instance } : {},
    metaAccess: async (req) => {
      try {
        return (await authenticator.principal(req)) !== null;
      } catch {
        return false; // a wrong token sees what no token sees
      }
    },
  });
  // The API description is public, like /healthz and /meta.
  app.use("/api/v1/*", except(OPENAPI_PATH, authenticator.middleware()));
  app.route("/", metricsApp(s.metrics, authenticator));
  app.use("/api/v1/tenants/:tenant", tenantGuard());
  app.use("/api/v1/tenants/:tenant/*", tenantGuard());
  app.use(
    "/api/v1/tenants/:tenant/*",
    knownTenant((t) => s.tenants.exists(t)),
  );
  if (enabled.has("ctl")) {
    app.route(
      "/",
      tenantApp({
        tenants: s.tenants,
        storage: new TenantStorage(s),
        // Marked first, then swept; the background work finishes it (and
        // any delete a crash cut short), see tenant_deletion.ts.
        remove: (id) => deleteTenant(s, id),
        // Its live streams end at once (in other processes within seconds).
        accessChanged: (id) => s.streams.recheck(id),
      }),
    );
    app.route("/", ctlApp(s.store, { metrics: s.metrics }));
    app.route(
      "/",
      retentionApp({ kv: s.kv, policies: s.policies, sweeper: w.sweeper }),
    );
    // Queue stats and dead letters are control-plane reads and admin writes
    // on the shared KV, beside the packages that declare the queues.
    app.route("/", queueApp(s.store, s.queue));
    app.route(
      "/",
      queueLimitsApp({
        kv: s.kv,
        store: s.store,
        queue: s.queue,
        policies: s.policies,
      }),
    );
    app.route("/", scheduleApp({ kv: s.kv, store: s.store }));
    // Cancel a waiting or delayed event, re-run an execution.
    app.route(
      "/",
      flowApp({
        kv: s.kv,
        definitions: s.definitions,
        queue: s.queue,
        executions: s.executions,
        maxQueueDepth: options.maxQueueDepth,
        maxDelayMs: options.maxDelayMs,
      }),
    );
  }
  if (enabled.has("repo")) app.route("/", repoApp(s.repo));
  if (enabled.has("listener")) {
    app.route(
      "/",
      listenerApp({
        kv: s.kv,
        definitions: s.definitions,
        store: s.store,
        queue: s.queue,
        metrics: s.metrics,
        auth: new WebhookAuth({ authenticator, tenants: s.tenants }),
        maxQueueDepth: options.maxQueueDepth,
        maxDelayMs: options.maxDelayMs,
      }),
    );
  }
  if (enabled.has("recorder")) {
    app.route("/", recorderApp(s.executions, s.streams));
  }
  // Last: it describes the routes mounted above (docs and openapi.json).
  app.route("/", openApiApp(app, { version: VERSION }));
  return app;
}
