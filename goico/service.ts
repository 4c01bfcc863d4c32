/**
 * A service: a Hono app on Deno's HTTP server with what every service
 * needs: `/healthz`, `/meta`, JSON-lines request logs, problem+json
 * errors, bounded connections (guarded_server.ts) and a graceful shutdown.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { getPath } from "hono/utils/url";
import { describeRoute } from "hono-openapi";
import type { OpenAPIV3_1 } from "openapi-types";
import { DomainError, NotFoundError } from "./domain_error.ts";
import { problemResponse } from "./problem.ts";
import type { Logger } from "./logger.ts";
import { storeFailure, type StoreUnavailableError } from "./store_error.ts";
import { fdLimit, maxConnectionsFor } from "./fd_limit.ts";
import {
  type ConnectionLimits,
  type ConnectionStats,
  DEFAULT_CONNECTION_TIMEOUTS,
  serveGuarded,
} from "./guarded_server.ts";

/**
 * Which requests get a log line: every one, those answered with an error
 * (a status of 400 or more) or that were slow, or none.
 */
export type AccessLog = "all" | "errors" | "off";

/** The values of {@linkcode AccessLog}. */
export const ACCESS_LOGS: readonly AccessLog[] = ["all", "errors", "off"];

/**
 * What {@linkcode serviceApp} says about the service at `/`, `/meta` and
 * `/healthz`, and how it logs.
 *
 * @example
 * ```ts
 * const app = serviceApp({
 *   name: "jobico",
 *   version: "1.0.0",
 *   logger: jsonLogger(),
 *   health: async () => ({ kv: await storeHealth.check() }),
 * });
 * ```
 */
export interface ServiceAppOptions {
  /** The service's name, in `/` and `/meta`. */
  name: string;
  /** Its version, in `/` and `/meta`. */
  version: string;
  /** Gets the request lines (see `accessLog`) and the errors. */
  logger: Logger;
  /**
   * Which requests get a `request` log line (see {@linkcode AccessLog}).
   * A line per request costs a busy service a good part of its time (the
   * listener: 10 µs of about 65 per request, and whoever reads the lines),
   * so a service under load may log errors only.
   *
   * @default {"all"}
   */
  accessLog?: AccessLog;
  /**
   * Under `errors`, a request that took this long, in ms, is logged too.
   *
   * @default {1000}
   */
  slowRequestMs?: number;
  /**
   * Extra members of `/meta`.
   *
   * @default {undefined} (none)
   */
  meta?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /**
   * Health checks; `/healthz` answers 503 when one fails.
   *
   * @default {undefined} (`/healthz` is always ok)
   */
  health?: () => Promise<Record<string, string>> | Record<string, string>;
  /**
   * Told of each store failure that reached the boundary (it answered
   * 503), e.g. `StoreHealth.observe`.
   *
   * @default {undefined} (they are logged)
   */
  onStoreFailure?: (err: StoreUnavailableError) => void;
  /**
   * Whether a request may see all of `/meta`; without, it gets `name`,
   * `version` and `publicMeta`.
   *
   * @default {undefined} (every request may)
   */
  metaAccess?: (req: Request) => Promise<boolean> | boolean;
  /**
   * Members of `/meta` that every caller sees (with `metaAccess`).
   *
   * @default {undefined} (none)
   */
  publicMeta?: () => Record<string, unknown>;
}

/** A Hono app with request logs, problem+json errors, `/healthz` and `/meta`. */
export function serviceApp(options: ServiceAppOptions): Hono {
  const { logger } = options;
  const accessLog = options.accessLog ?? "all";
  const slowMs = options.slowRequestMs ?? 1000;
  const app = new Hono();
  if (accessLog !== "off") {
    // Around the app's fetch rather than a middleware of every route: a
    // route with one handler then runs without Hono's compose, and no
    // async step is added to each request.
    const dispatch = app.fetch;
    app.fetch = async (request, ...rest) => {
      const start = performance.now();
      const res = await dispatch(request, ...rest);
      const ms = performance.now() - start;
      if (accessLog === "errors" && res.status < 400 && ms < slowMs) return res;
      logger.info("request", {
        method: request.method,
        path: getPath(request),
        status: res.status,
        ms: Math.round(ms * 100) / 100,
      });
      return res;
    };
  }
  // The one place errors become HTTP answers (problem.ts).
  app.onError((err, c) => {
    if (err instanceof HTTPException) return problemResponse(err, c.req.path);
    // The store cannot take writes (disk full, I/O error): a 503 with
    // Retry-After, not a 500, and not a stack trace per request.
    const store = storeFailure(err);
    if (store) {
      if (options.onStoreFailure) options.onStoreFailure(store);
      else {logger.warn("store failing", {
          path: c.req.path,
          error: store.storeMessage,
        });}
      return problemResponse(store, c.req.path);
    }
    if (!(err instanceof DomainError)) {
      logger.error("unhandled error", {
        path: c.req.path,
        error: String(err?.stack ?? err),
      });
    }
    return problemResponse(err, c.req.path);
  });
  app.notFound((c) =>
    problemResponse(
      new NotFoundError(`No route for ${c.req.method} ${c.req.path}`),
      c.req.path,
    )
  );
  app.get("/healthz", HEALTH_DOC, async (c) => {
    const checks = (await options.health?.()) ?? {};
    const failing = Object.values(checks).some((v) => v !== "ok");
    return c.json(
      { status: failing ? "failing" : "ok", checks },
      failing ? 503 : 200,
    );
  });
  app.get("/meta", META_DOC, async (c) => {
    const base = {
      name: options.name,
      version: options.version,
      ...options.publicMeta?.(),
    };
    if (options.metaAccess && !(await options.metaAccess(c.req.raw))) {
      return c.json(base);
    }
    return c.json({ ...base, ...await options.meta?.() });
  });
  return app;
}

/** What `/healthz` answers, 200 or 503. */
const HEALTH_BODY: OpenAPIV3_1.SchemaObject = {
  type: "object",
  required: ["status", "checks"],
  properties: {
    status: { type: "string", enum: ["ok", "failing"] },
    checks: {
      type: "object",
      description: 'Each check: "ok" or what fails',
      additionalProperties: { type: "string" },
    },
  },
  additionalProperties: false,
};

/** The API description of `/healthz` (see hono-openapi). */
const HEALTH_DOC = describeRoute({
  operationId: "health",
  tags: ["service"],
  summary: "Health of the service",
  description: "Needs no token. 503 when one of its checks fails.",
  security: [],
  responses: {
    200: {
      description: "Every check passes",
      content: { "application/json": { schema: HEALTH_BODY } },
    },
    503: {
      description: "A check fails",
      content: { "application/json": { schema: HEALTH_BODY } },
    },
  },
});

/** The API description of `/meta`. */
const META_DOC = describeRoute({
  operationId: "meta",
  tags: ["service"],
  summary: "Name and version of the service",
  description:
    "Needs no token. Without one, only what a health check needs (name, " +
    "version); with a valid token, the members the service adds.",
  security: [],
  responses: {
    200: {
      description: "The service's name, version and more",
      content: {
        "application/json": {
          schema: {
            type: "object",
            required: ["name", "version"],
            properties: {
              name: { type: "string" },
              version: { type: "string" },
            },
          },
        },
      },
    },
  },
});

/**
 * Where {@linkcode serve} listens and how it bounds connections.
 *
 * @example
 * ```ts
 * const server = serve(app.fetch, {
 *   port: 0,
 *   logger: jsonLogger(),
 *   connections: { maxConnections: 512 },
 * });
 * ```
 */
export interface ServeOptions {
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
  /** Gets the server's errors and the connection warnings. */
  logger: Logger;
  /**
   * Bounds on connections (see guarded_server.ts): a member left out takes
   * its default, the timeouts of `DEFAULT_CONNECTION_TIMEOUTS` and
   * `maxConnectionsFor` the process's file descriptor limit.
   *
   * @default {{}}
   */
  connections?: Partial<ConnectionLimits>;
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  port: number;
  /** The bounds in force; `undefined` when this Deno cannot enforce them. */
  connections?: ConnectionLimits;
  /** Counters of the connections; `undefined` when not enforced. */
  connectionStats(): ConnectionStats | undefined;
  /** Stops accepting connections and waits for requests under way. */
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

/** The connection bounds `options` ask for, defaults filled in. */
export function connectionLimits(
  options: Partial<ConnectionLimits> = {},
): ConnectionLimits {
  const d = DEFAULT_CONNECTION_TIMEOUTS;
  return {
    maxConnections: options.maxConnections ??
      maxConnectionsFor(fdLimit()?.soft),
    headerTimeoutMs: options.headerTimeoutMs ?? d.headerTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? d.idleTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? d.requestTimeoutMs,
  };
}

/**
 * Serves a fetch handler until `shutdown()`, within the connection bounds
 * of `options.connections`. On a Deno that cannot serve an accepted
 * connection, it falls back to plain `Deno.serve` and logs that the bounds
 * are not enforced.
 */
export function serve(
  handler: (req: Request) => Response | Promise<Response>,
  options: ServeOptions,
): RunningServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8080;
  const onError = (err: unknown) => {
    options.logger.error("server error", { error: String(err) });
    return problemResponse(err);
  };
  const limits = connectionLimits(options.connections);
  const guarded = serveGuarded(handler, {
    hostname,
    port,
    limits,
    onError,
    logger: options.logger,
  });
  if (guarded) {
    return {
      url: urlOf(guarded.addr),
      port: guarded.addr.port,
      connections: limits,
      connectionStats: guarded.stats,
      shutdown: guarded.shutdown,
      finished: guarded.finished,
    };
  }
  options.logger.warn(
    "connection limits and timeouts are not enforced: this Deno cannot serve an accepted connection",
    { deno: Deno.version.deno },
  );
  const server = Deno.serve(
    { hostname, port, onListen: () => {}, onError },
    handler,
  );
  const addr = server.addr as Deno.NetAddr;
  return {
    url: urlOf(addr),
    port: addr.port,
    connectionStats: () => undefined,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}

function urlOf(addr: Deno.NetAddr): string {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `http://${host}:${addr.port}`;
}

/** Calls `stop` once on the first SIGINT or SIGTERM. Returns a function that removes the handlers. */
export function onShutdownSignal(stop: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  let called = false;
  const handler = () => {
    if (called) return;
    called = true;
    stop();
  };
  for (const s of signals) Deno.addSignalListener(s, handler);
  return () => {
    for (const s of signals) Deno.removeSignalListener(s, handler);
  };
}
