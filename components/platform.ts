/**
 * Wires the enabled components into one process: control service, file
 * repository, listener, queue, executor and recorder, on one Deno KV.
 */
import type { Hono } from "hono";
import { except } from "hono/combine";
import {
  type AccessLog,
  BlobStore,
  type ConnectionLimits,
  type ConnectionStats,
  DurableQueue,
  fdLimit,
  jsonRecords,
  type Logger,
  onShutdownSignal,
  SecretBox,
  serve,
  serviceApp,
  silentLogger,
  storeFailure,
  StoreHealth,
  WasmPool,
  withDefaults,
} from "@jobico/goico";
import { Authenticator, tenantGuard } from "./http/authenticator.ts";
import { telemetryObserver } from "./observe/execution_observer.ts";
import { PlatformMetrics } from "./observe/platform_metrics.ts";
import { metricsApp } from "./observe/metrics_routes.ts";
import { registerConnectionMetrics } from "./observe/connection_metrics.ts";
import { ctlApp } from "./ctl/ctl_routes.ts";
import { Definitions } from "./packages/definitions.ts";
import { PackageStore } from "./packages/package_store.ts";
import {
  DEFAULT_LIMITS,
  DEFAULT_MAX_LIMITS,
  type Limits,
} from "./model/runtime_limits.ts";
import { Executor } from "./executor/executor.ts";
import { JobicoletRunner } from "./executor/jobicolet_runner.ts";
import { keys } from "./model/keys.ts";
import { knownTenant } from "./http/known_tenant.ts";
import { listenerApp } from "./listener/listener.ts";
import { WebhookAuth } from "./listener/webhook_auth.ts";
import { OPENAPI_PATH, openApiApp } from "./openapi/openapi_routes.ts";
import type { EventItem } from "./model/event_item.ts";
import { queueApp } from "./ctl/queue_routes.ts";
import { ExecutionStore } from "./executions/execution_store.ts";
import { recorderApp } from "./executions/recorder_routes.ts";
import {
  ExecutionStreams,
  type ExecutionStreamsOptions,
} from "./executions/execution_streams.ts";
import { registerStreamMetrics } from "./executions/stream_metrics.ts";
import { FileRepo } from "./repo/file_repo.ts";
import { SchemaCache } from "./repo/compile_schema.ts";
import { repoApp } from "./repo/repo_routes.ts";
import {
  deleteTenant,
  finishTenantDeletions,
} from "./tenants/delete_tenant.ts";
import { tenantApp } from "./tenants/tenant_routes.ts";
import { TenantStore } from "./tenants/tenant_store.ts";
import { TenantPolicies } from "./tenants/tenant_policies.ts";
import {
  policyDefaults,
  type Quotas,
  type RetentionPolicy,
} from "./tenants/tenant_policy.ts";
import { UsageLedger } from "./repo/usage_ledger.ts";
import { RetentionSweeper } from "./retention/retention_sweeper.ts";
import { retentionApp } from "./retention/retention_routes.ts";
import { TenantStorage } from "./retention/tenant_storage.ts";
import { VERSION } from "./version.ts";

export { VERSION };
export const COMPONENTS = [
  "ctl",
  "repo",
  "listener",
  "executor",
  "recorder",
] as const;
export type Component = typeof COMPONENTS[number];

/**
 * What {@linkcode createPlatform} builds: the store, the admin token, which
 * components run here, and the limits and timings of each. Every member but
 * `kv` and `adminToken` has a default; one given as `undefined` keeps it.
 *
 * @example
 * ```ts
 * const kv = await Deno.openKv(":memory:");
 * const parts = createPlatform({
 *   kv,
 *   adminToken: "an-admin-token-of-16-or-more",
 *   components: ["ctl", "repo", "listener"],
 *   limits: { timeoutMs: 2000 },
 * }, shutdown.signal);
 * ```
 */
export interface PlatformOptions {
  /** The store. The platform never closes it: its owner does. */
  kv: Deno.Kv;
  /**
   * The token that may do everything (at least 16 characters). Every
   * /api/v1 request needs it or a tenant's token; events need what their
   * definition says (a token, a signature, or nothing).
   */
  adminToken: string;
  /**
   * Which components run in this process.
   *
   * @default {COMPONENTS}
   */
  components?: readonly Component[];
  /**
   * Gets one JSON line per request and what the background work reports.
   *
   * @default {silentLogger}
   */
  logger?: Logger;
  /**
   * Which requests get a `request` log line: `all`, `errors` (answered 400
   * or more, or slower than a second) or `off`. A line per event costs
   * ingest a sixth of its CPU (BENCHMARKS.md).
   *
   * @default {"errors"}
   */
  accessLog?: AccessLog;
  /**
   * Limits of runtimes that declare none (timeout, memory, fuel, output,
   * retries); a member left out keeps its default.
   *
   * @default {DEFAULT_LIMITS}
   */
  limits?: Partial<Limits>;
  /**
   * The highest limits a package may declare.
   *
   * @default {DEFAULT_MAX_LIMITS}
   */
  maxLimits?: Partial<Limits>;
  /**
   * Sandbox Workers that run Jobicolets.
   *
   * @default {navigator.hardwareConcurrency}
   */
  workers?: number;
  /**
   * Workers one tenant may hold at once.
   *
   * @default {Math.max(1, workers - 1)}
   */
  tenantConcurrency?: number;
  /**
   * Delay of the first retry of a failed execution, in ms; doubles each
   * time.
   *
   * @default {1000}
   */
  retryBaseMs?: number;
  /**
   * Events a queue may hold before the listener answers 429.
   *
   * @default {100000}
   */
  maxQueueDepth?: number;
  /**
   * Names this instance in /meta (an isolate of `deno serve --parallel`, a
   * process).
   *
   * @default {undefined}
   */
  instance?: string;
  /**
   * How long a queue lease lasts before a leased event is delivered again
   * (renewed while it runs), in ms.
   *
   * @default {4000}
   */
  leaseMs?: number;
  /**
   * What is kept of each tenant, unless it sets its own.
   *
   * @default {DEFAULT_RETENTION}
   */
  retention?: Partial<RetentionPolicy>;
  /**
   * What each tenant may store, unless it has its own.
   *
   * @default {DEFAULT_QUOTAS}
   */
  quotas?: Partial<Quotas>;
  /**
   * How often the retention sweeper runs, in ms (in a process with the ctl
   * component; one process at a time sweeps); 0 turns it off.
   *
   * @default {60000}
   */
  sweepIntervalMs?: number;
  /**
   * On shutdown, how long executions under way may take to finish before
   * they are stopped and their events put back, in ms.
   *
   * @default {10000}
   */
  shutdownGraceMs?: number;
  /**
   * How long an upload may go without writing before its chunks count as
   * abandoned (a crash) and are collected, in ms.
   *
   * @default {600000}
   */
  uploadGraceMs?: number;
  /**
   * 32 bytes that seal webhook secrets at rest (see server/secret_key.ts).
   * Without, they are stored in clear.
   *
   * @default {null}
   */
  secretKey?: Uint8Array | null;
  /**
   * Limits of the live execution streams (per tenant, in all, buffer); a
   * member left out keeps its default (see `ExecutionStreamsOptions`).
   *
   * @default {{}}
   */
  streams?: Omit<ExecutionStreamsOptions, "onError">;
}

export interface PlatformParts {
  app: Hono;
  store: PackageStore;
  repo: FileRepo;
  tenants: TenantStore;
  /** Each tenant's retention and quotas. */
  policies: TenantPolicies;
  /** What each tenant stores. */
  ledger: UsageLedger;
  /** The retention sweeper, when this process runs it. */
  sweeper?: RetentionSweeper;
  definitions: Definitions;
  executions: ExecutionStore;
  /** The live execution streams of this process. */
  streams: ExecutionStreams;
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
  const limits = withDefaults(DEFAULT_LIMITS, options.limits);
  const maxLimits = withDefaults(DEFAULT_MAX_LIMITS, options.maxLimits);
  const blobs = new BlobStore(kv, keys.blobs(), {
    uploads: keys.blobUploads(),
  });
  const policies = new TenantPolicies(kv, policyDefaults(options));
  const ledger = new UsageLedger(kv, blobs, {
    quotas: async (tenant) => (await policies.get(tenant)).quotas,
  });
  const repo = new FileRepo(kv, blobs, {
    ledger,
    maxMemoryMb: maxLimits.memoryMb,
  });
  const tenants = new TenantStore(kv, {
    secrets: options.secretKey ? new SecretBox(options.secretKey) : undefined,
  });
  const store = new PackageStore(kv, repo, { maxLimits });
  const definitions = new Definitions(
    store,
    new SchemaCache((sha) => repo.bytes(sha)),
  );
  const executions = new ExecutionStore(kv);
  const streams = new ExecutionStreams(executions, shutdown, {
    ...options.streams,
    onError: (tenant, err) =>
      logger.error("reading executions for streams failed", {
        tenant,
        error: String(err),
      }),
  });
  const queue = new DurableQueue<EventItem>(kv, keys.queues(), {
    leaseMs: options.leaseMs,
    // JSON bytes: several times cheaper to write and read than V8 values.
    codec: jsonRecords,
  });
  const metrics = new PlatformMetrics(queue);
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  const sweeper = enabled.has("ctl") && sweepIntervalMs > 0
    ? new RetentionSweeper({
      kv,
      executions,
      ledger,
      policies,
      logger,
      intervalMs: sweepIntervalMs,
    })
    : undefined;
  const storeHealth = new StoreHealth(kv, { logger });
  registerStreamMetrics(metrics.registry, streams);
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
      storeHealth,
      ...(options.shutdownGraceMs !== undefined &&
        { shutdownGraceMs: options.shutdownGraceMs }),
    })
    : undefined;
  const authenticator = new Authenticator(options.adminToken, tenants);
  const deletion = { kv, tenants, store, queue, ledger };

  const app = serviceApp({
    name: "jobico",
    version: VERSION,
    logger,
    accessLog: options.accessLog ?? "errors",
    meta: async () => ({
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
    // A write, not a read: a full disk still reads (see StoreHealth).
    health: async () => ({ kv: await storeHealth.check() }),
    onStoreFailure: (err) => storeHealth.observe(err),
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
  app.route("/", metricsApp(metrics, authenticator));
  app.use("/api/v1/tenants/:tenant", tenantGuard());
  app.use("/api/v1/tenants/:tenant/*", tenantGuard());
  app.use("/api/v1/tenants/:tenant/*", knownTenant((t) => tenants.exists(t)));
  if (enabled.has("ctl")) {
    app.route(
      "/",
      tenantApp({
        tenants,
        storage: new TenantStorage({ policies, ledger, executions }),
        // Marked first, then swept; the background work finishes it (and
        // any delete a crash cut short), see tenant_deletion.ts.
        remove: (id) => deleteTenant(deletion, id),
      }),
    );
    app.route("/", ctlApp(store, { metrics }));
    app.route("/", retentionApp({ kv, policies, sweeper }));
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
    app.route("/", recorderApp(executions, streams));
  }
  // Last: it describes the routes mounted above (docs and openapi.json).
  app.route("/", openApiApp(app, { version: VERSION }));

  const leaseMs = options.leaseMs ?? 4000;
  const uploadGraceMs = options.uploadGraceMs ?? 10 * 60_000;
  const run = async (signal: AbortSignal) => {
    try {
      await Promise.all([
        definitions.follow(signal),
        executor?.run(signal),
        sweeper?.run(signal),
        // Tenant deletes a crash cut short, and the last sweep of each.
        enabled.has("ctl") &&
        repeat(
          signal,
          leaseMs,
          logger,
          "finishing tenant deletes",
          () =>
            finishTenantDeletions(deletion, {
              finalSweepAfterMs: 2 * leaseMs + 1000,
              logger,
            }),
        ),
        // Chunks of uploads a crash cut short, and of collections of
        // content nobody uses (retention and tenant deletes, in ctl).
        (enabled.has("repo") || enabled.has("ctl")) &&
        repeat(
          signal,
          Math.min(uploadGraceMs, 60_000),
          logger,
          "collecting abandoned uploads",
          async () => {
            const c = await blobs.collectAbandoned(uploadGraceMs);
            if (c.uploads + c.headless > 0) {
              logger.info("collected abandoned uploads", { ...c });
            }
          },
        ),
      ]);
    } finally {
      pool?.close();
      // Moves of execution records to their tenants' logs, before the store closes.
      await executions.settled();
    }
  };
  return {
    app,
    store,
    repo,
    tenants,
    policies,
    ledger,
    sweeper,
    definitions,
    executions,
    streams,
    queue,
    executor,
    pool,
    metrics,
    run,
  };
}

/**
 * Runs `fn` now and then every `everyMs` until `signal` aborts; a failure
 * is logged (a store failure is the store health's to log) and the next
 * run comes as usual.
 */
async function repeat(
  signal: AbortSignal,
  everyMs: number,
  logger: Logger,
  what: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await fn();
    } catch (err) {
      if (!storeFailure(err)) {
        logger.error(`${what} failed`, { error: String(err) });
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, everyMs);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/**
 * What {@linkcode startPlatform} builds and where it listens.
 *
 * @example
 * ```ts
 * const platform = await startPlatform({
 *   kv,
 *   adminToken: "an-admin-token-of-16-or-more",
 *   port: 0,
 *   connections: { maxConnections: 256 },
 * });
 * console.log(platform.url);
 * ```
 */
export interface ServeOptions extends PlatformOptions {
  /**
   * The address to listen on.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port; 0 picks a free one.
   *
   * @default {8080}
   */
  port?: number;
  /**
   * Bounds on connections and their timeouts; a member left out takes
   * goico's default (see `connectionLimits`).
   *
   * @default {{}}
   */
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

/**
 * Serves until SIGINT or SIGTERM, then shuts down gracefully. `onListening`
 * runs once the platform listens, before the `listening` log line.
 */
export async function servePlatformUntilSignal(
  options: ServeOptions,
  onListening?: (platform: Platform) => Promise<void>,
): Promise<void> {
  const platform = await startPlatform(options);
  await onListening?.(platform);
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
