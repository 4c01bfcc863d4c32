/**
 * Wires the enabled components into one process: control service, file
 * repository, listener, queue, executor and recorder, on one Deno KV.
 */
import type { Hono } from "hono";
import { except } from "hono/combine";
import {
  BlobStore,
  type ConnectionLimits,
  type ConnectionStats,
  DurableQueue,
  fdLimit,
  type Logger,
  onShutdownSignal,
  serve,
  serviceApp,
  silentLogger,
  WasmPool,
} from "../goico/mod.ts";
import { Authenticator, tenantGuard } from "./authenticator.ts";
import { telemetryObserver } from "./observe/execution_observer.ts";
import { PlatformMetrics } from "./observe/platform_metrics.ts";
import { metricsApp } from "./observe/metrics_routes.ts";
import { registerConnectionMetrics } from "./observe/connection_metrics.ts";
import { ctlApp } from "./ctl/ctl_routes.ts";
import { Definitions } from "./ctl/definitions.ts";
import { PackageStore } from "./ctl/package_store.ts";
import {
  DEFAULT_LIMITS,
  DEFAULT_MAX_LIMITS,
  type Limits,
} from "./ctl/runtime_limits.ts";
import { Executor } from "./executor/executor.ts";
import { JobicoletRunner } from "./executor/jobicolet_runner.ts";
import { keys } from "./keys.ts";
import { listenerApp } from "./listener/listener.ts";
import { WebhookAuth } from "./listener/webhook_auth.ts";
import { OPENAPI_PATH, openApiApp } from "./openapi/openapi_routes.ts";
import type { EventItem } from "./queue/event_item.ts";
import { queueApp } from "./queue/queue_routes.ts";
import { ExecutionStore } from "./recorder/execution_store.ts";
import { recorderApp } from "./recorder/recorder_routes.ts";
import { FileRepo } from "./repo/file_repo.ts";
import { SchemaCache } from "./repo/compile_schema.ts";
import { repoApp } from "./repo/repo_routes.ts";
import { deleteTenant, sweepTenant } from "./tenants/delete_tenant.ts";
import { tenantApp } from "./tenants/tenant_routes.ts";
import { TenantStore } from "./tenants/tenant_store.ts";

export const VERSION = "0.1.0";
export const COMPONENTS = [
  "ctl",
  "repo",
  "listener",
  "executor",
  "recorder",
] as const;
export type Component = typeof COMPONENTS[number];

export interface PlatformOptions {
  /** The store. The platform never closes it: its owner does. */
  kv: Deno.Kv;
  /**
   * The token that may do everything (at least 16 characters). Every
   * /api/v1 request needs it or a tenant's token; events need what their
   * definition says (a token, a signature, or nothing).
   */
  adminToken: string;
  /** Which components run in this process. Default: all. */
  components?: readonly Component[];
  /** Default `silentLogger`. */
  logger?: Logger;
  /** Limits of runtimes that declare none (timeout, memory, fuel, retries). Default `DEFAULT_LIMITS`. */
  limits?: Partial<Limits>;
  /** The highest limits a package may declare. Default `DEFAULT_MAX_LIMITS`. */
  maxLimits?: Partial<Limits>;
  /** Sandbox Workers that run Jobicolets. Default: the machine's cores. */
  workers?: number;
  /** Workers one tenant may hold at once. Default: workers - 1 (at least 1). */
  tenantConcurrency?: number;
  /** Delay of the first retry of a failed execution; doubles each time. Default 1 s. */
  retryBaseMs?: number;
  /** Events a queue may hold before the listener answers 429. Default 100,000. */
  maxQueueDepth?: number;
  /** Names this instance in /meta (an isolate of `deno serve --parallel`, a process). */
  instance?: string;
  /** How long a queue lease lasts before a leased event is delivered again (renewed while it runs). Default 4 s. */
  leaseMs?: number;
}

export interface PlatformParts {
  app: Hono;
  store: PackageStore;
  repo: FileRepo;
  tenants: TenantStore;
  definitions: Definitions;
  executions: ExecutionStore;
  queue: DurableQueue<EventItem>;
  executor?: Executor;
  /** The sandbox Workers, when the executor runs here. */
  pool?: WasmPool;
  /** The Prometheus metrics this process serves at /metrics. */
  metrics: PlatformMetrics;
  /** Runs the background work (definition stream, executor) until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/** Builds the platform without serving it (handlers can be tried with `app.request`). */
export function createPlatform(
  options: PlatformOptions,
  shutdown: AbortSignal,
): PlatformParts {
  const { kv } = options;
  const logger = options.logger ?? silentLogger;
  const enabled = new Set(options.components ?? COMPONENTS);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const maxLimits = { ...DEFAULT_MAX_LIMITS, ...options.maxLimits };
  const blobs = new BlobStore(kv, keys.blobs());
  const repo = new FileRepo(kv, blobs);
  const tenants = new TenantStore(kv);
  const store = new PackageStore(kv, repo, { maxLimits });
  const definitions = new Definitions(
    store,
    new SchemaCache((sha) => repo.bytes(sha)),
  );
  const executions = new ExecutionStore(kv);
  const queue = new DurableQueue<EventItem>(kv, keys.queues(), {
    leaseMs: options.leaseMs,
  });
  const metrics = new PlatformMetrics(queue);
  const pool = enabled.has("executor")
    ? new WasmPool({ size: options.workers })
    : undefined;
  const executor = pool
    ? new Executor({
      kv,
      queue,
      definitions,
      executions,
      logger,
      limits,
      tenantConcurrency: options.tenantConcurrency ??
        Math.max(1, pool.size - 1),
      retryBaseMs: options.retryBaseMs,
      runner: new JobicoletRunner((sha) => repo.bytes(sha), { pool }),
      observer: telemetryObserver(metrics),
    })
    : undefined;

  const app = serviceApp({
    name: "jobico",
    version: VERSION,
    logger,
    meta: async () => ({
      ...(options.instance && { instance: options.instance }),
      components: [...enabled],
      definitionsGeneration: definitions.generation,
      // A deploy has reached this process when seen >= the latest read
      // after it (jobico deploy --wait).
      definitionsSeen: definitions.seen,
      definitionsLatest: await definitions.latest().catch(() => null),
      ...(pool && {
        sandbox: { workers: pool.size, busy: pool.busy },
      }),
      limits,
    }),
    health: async () => {
      try {
        await kv.get(["health"]);
        return { kv: "ok" };
      } catch (err) {
        return { kv: `failing: ${(err as Error).message}` };
      }
    },
  });
  const authenticator = new Authenticator(options.adminToken, tenants);
  // The API description is public, like /healthz and /meta.
  app.use("/api/v1/*", except(OPENAPI_PATH, authenticator.middleware()));
  app.route("/", metricsApp(metrics, authenticator));
  app.use("/api/v1/tenants/:tenant", tenantGuard());
  app.use("/api/v1/tenants/:tenant/*", tenantGuard());
  if (enabled.has("ctl")) {
    app.route(
      "/",
      tenantApp({
        tenants,
        remove: async (id) => {
          const parts = { kv, tenants, store, queue, blobs };
          await deleteTenant(parts, id);
          // Executions under way when it was deleted may still be recorded
          // for up to a lease: sweep again after one.
          const timer = setTimeout(() => {
            shutdown.removeEventListener("abort", cancel);
            sweepTenant(parts, id).catch((err) =>
              logger.error("sweeping a deleted tenant failed", {
                tenant: id,
                error: String(err),
              })
            );
          }, (options.leaseMs ?? 4000) + 1000);
          const cancel = () => clearTimeout(timer);
          shutdown.addEventListener("abort", cancel, { once: true });
        },
      }),
    );
    app.route("/", ctlApp(store, { metrics }));
    // Queue stats and dead letters are control-plane reads and admin writes
    // on the shared KV, beside the packages that declare the queues.
    app.route("/", queueApp(store, queue));
  }
  if (enabled.has("repo")) app.route("/", repoApp(repo));
  if (enabled.has("listener")) {
    app.route(
      "/",
      listenerApp({
        kv,
        definitions,
        store,
        queue,
        auth: new WebhookAuth({ authenticator, tenants }),
        maxQueueDepth: options.maxQueueDepth,
        metrics,
      }),
    );
  }
  if (enabled.has("recorder")) {
    app.route("/", recorderApp(executions, shutdown));
  }
  // Last: it describes the routes mounted above (docs and openapi.json).
  app.route("/", openApiApp(app, { version: VERSION }));

  const run = async (signal: AbortSignal) => {
    try {
      await Promise.all([
        definitions.follow(signal),
        executor?.run(signal),
      ]);
    } finally {
      pool?.close();
    }
  };
  return {
    app,
    store,
    repo,
    tenants,
    definitions,
    executions,
    queue,
    executor,
    pool,
    metrics,
    run,
  };
}

export interface ServeOptions extends PlatformOptions {
  hostname?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Bounds on connections and their timeouts. Default: see goico's `connectionLimits`. */
  connections?: Partial<ConnectionLimits>;
}

export interface Platform extends PlatformParts {
  url: string;
  port: number;
  /** The connection bounds in force (undefined when this Deno cannot enforce them). */
  connections?: ConnectionLimits;
  connectionStats(): ConnectionStats | undefined;
  /** Stops serving, stops the background work and waits for both. Leaves the KV open. */
  close(): Promise<void>;
}

/** Builds and serves the platform. */
export function startPlatform(options: ServeOptions): Promise<Platform> {
  const ctrl = new AbortController();
  const parts = createPlatform(options, ctrl.signal);
  const server = serve(parts.app.fetch, {
    hostname: options.hostname,
    port: options.port ?? 8080,
    logger: options.logger ?? silentLogger,
    connections: options.connections,
  });
  if (server.connections) {
    registerConnectionMetrics(
      parts.metrics.registry,
      server.connectionStats,
      server.connections,
    );
  }
  const background = parts.run(ctrl.signal);
  let closing: Promise<void> | undefined;
  return Promise.resolve({
    ...parts,
    url: server.url,
    port: server.port,
    connections: server.connections,
    connectionStats: server.connectionStats,
    close: () => {
      closing ??= (async () => {
        ctrl.abort();
        await server.shutdown();
        await background;
      })();
      return closing;
    },
  });
}

/** Serves until SIGINT or SIGTERM, then shuts down gracefully. */
export async function servePlatformUntilSignal(
  options: ServeOptions,
): Promise<void> {
  const platform = await startPlatform(options);
  options.logger?.info("listening", {
    url: platform.url,
    components: options.components ?? COMPONENTS,
    connections: platform.connections,
    fdLimit: fdLimit() ?? "unknown (needs --allow-ffi)",
  });
  await new Promise<void>((resolve) => {
    const remove = onShutdownSignal(() => {
      remove();
      resolve();
    });
  });
  options.logger?.info("shutting down");
  await platform.close();
}
