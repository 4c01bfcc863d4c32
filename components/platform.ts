/**
 * Wires the enabled components into one process: control service, file
 * repository, listener, queue, executor and recorder, on one Deno KV.
 */
import type { Hono } from "hono";
import {
  type AccessLog,
  type ConnectionLimits,
  type ConnectionStats,
  DurableQueue,
  fdLimit,
  type Logger,
  onShutdownSignal,
  serve,
  silentLogger,
  WasmPool,
} from "@jobico/goico";
import { PlatformMetrics } from "./observe/platform_metrics.ts";
import { registerConnectionMetrics } from "./observe/connection_metrics.ts";
import { Definitions } from "./packages/definitions.ts";
import { PackageStore } from "./packages/package_store.ts";
import { type Limits } from "./model/runtime_limits.ts";
import { Executor } from "./executor/executor.ts";
import type { EventItem } from "./model/event_item.ts";
import { ExecutionStore } from "./executions/execution_store.ts";
import {
  ExecutionStreams,
  type ExecutionStreamsOptions,
} from "./executions/execution_streams.ts";
import { FileRepo } from "./repo/file_repo.ts";
import { TenantStore } from "./tenants/tenant_store.ts";
import { TenantPolicies } from "./tenants/tenant_policies.ts";
import { type Quotas, type RetentionPolicy } from "./tenants/tenant_policy.ts";
import { UsageLedger } from "./repo/usage_ledger.ts";
import { RetentionSweeper } from "./retention/retention_sweeper.ts";
import { VERSION } from "./version.ts";
import { platformApp } from "./platform/platform_app.ts";
import { platformContext } from "./platform/platform_context.ts";
import { createPlatformStores } from "./platform/platform_stores.ts";
import { createPlatformWorkers } from "./platform/platform_workers.ts";
import { platformWork } from "./platform/platform_work.ts";

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
   * The shortest time between two ticks of an event's `schedule`, in ms: a
   * package with a faster schedule is refused at deploy.
   *
   * @default {60000}
   */
  minScheduleIntervalMs?: number;
  /**
   * The furthest a webhook request may delay its events (`delay`, `runAt`),
   * in ms.
   *
   * @default {2592000000}
   */
  maxDelayMs?: number;
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
   * How long a queued event waits ready before its priority rises a level,
   * in ms: a low event waits at most twice this before no later event
   * passes it (README: Priority).
   *
   * @default {30000}
   */
  priorityAgingMs?: number;
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
  const ctx = platformContext(options, shutdown);
  const stores = createPlatformStores(ctx);
  const workers = createPlatformWorkers(ctx, stores);
  return {
    ...stores,
    ...workers,
    app: platformApp(ctx, stores, workers),
    run: platformWork(ctx, stores, workers),
  };
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
