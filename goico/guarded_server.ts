/**
 * An HTTP server that bounds its connections and times out idle and slow
 * ones.
 *
 * `Deno.serve` (Deno 2.9.6) has neither: measured, an idle connection, a
 * client sending its headers a byte a second and an idle keep-alive
 * connection are kept for ever, and about 1,000 idle connections under
 * `ulimit -n 1024` end the process ("Too many open files" out of its accept
 * loop). So this server accepts connections itself (`Deno.listen`), counts
 * them, and hands each one to Deno's own HTTP server (hyper, the same code
 * as `Deno.serve`) with `serveHttpOnConnection`, which Deno exposes as an
 * internal, not as a public API: `serveGuarded` is `undefined` on a Deno
 * without it. Requests are read, parsed and answered natively as with
 * `Deno.serve`; per request this adds a few counters, a header look-up
 * and two promise reactions (see BENCHMARKS.md for the cost).
 *
 * Rules:
 * - A new connection has `headerTimeoutMs` to send its first request's
 *   headers; a keep-alive connection `idleTimeoutMs` to send its next one
 *   (its headers included); a request `requestTimeoutMs` from its headers
 *   to the last byte of its response (reading the body, the handler and a
 *   client slow to read the answer included). An event stream
 *   (`text/event-stream`) has no time limit. Past a limit the connection
 *   is closed (checked every quarter of the shortest limit, at most every
 *   second).
 * - At most `maxConnections` are open. At the limit a new connection
 *   closes the one that has waited longest without a request in progress
 *   (a slow or idle client), so clients that send whole requests still get
 *   in while thousands of slow ones are connected; when every connection
 *   has a request in progress, the new one is answered 503 with
 *   Retry-After and closed.
 * - When the process runs out of file descriptors, accepting does not end
 *   the server: it closes a waiting connection and tries again.
 *
 * Deno counts a response whose body is given whole as answered as soon as
 * it has the body, not when the client has read it: such a connection is
 * timed as idle while the answer is still on its way, and a client slower
 * than `idleTimeoutMs` loses the end of a large one. Large bodies are to be
 * streamed in chunks (chunked_body.ts): a streamed answer counts until its
 * last chunk is written.
 */
import type { Logger } from "./logger.ts";
import { ConnectionRefuser } from "./_connection_refuser.ts";

/**
 * What bounds the connections of a server. Every member is required here;
 * `ServeOptions.connections` takes a part and fills the rest from
 * `DEFAULT_CONNECTION_TIMEOUTS` and `maxConnectionsFor`.
 *
 * @example
 * ```ts
 * const limits: ConnectionLimits = {
 *   ...DEFAULT_CONNECTION_TIMEOUTS,
 *   maxConnections: maxConnectionsFor(fdLimit()),
 * };
 * ```
 */
export interface ConnectionLimits {
  /** Open connections at most. */
  maxConnections: number;
  /** Time a new connection has to send its first request's headers. */
  headerTimeoutMs: number;
  /** Time a keep-alive connection may wait for, and read, its next request's headers. */
  idleTimeoutMs: number;
  /** Time from a request's headers to the end of its response (body read, handler, response sent); event streams excepted. */
  requestTimeoutMs: number;
}

/** The default timeouts (the connection limit comes from the fd limit, see fd_limit.ts). */
export const DEFAULT_CONNECTION_TIMEOUTS: Omit<
  ConnectionLimits,
  "maxConnections"
> = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 5_000,
  requestTimeoutMs: 60_000,
};

/** Counters of a guarded server since it started. */
export interface ConnectionStats {
  /** Connections open now. */
  open: number;
  /** Of them, without a request in progress (new, slow or idle keep-alive). */
  waiting: number;
  accepted: number;
  /** Answered 503 because every connection had a request in progress. */
  rejected: number;
  /** Closed to make room for a new connection. */
  evicted: number;
  /** Closed by a timeout. */
  timedOut: { header: number; idle: number; request: number };
  /** Accepts that failed for lack of file descriptors. */
  fdExhausted: number;
}

/**
 * Where {@linkcode serveGuarded} listens and what bounds it (`serve` fills
 * these in from its own options).
 *
 * @example
 * ```ts
 * const server = serveGuarded(handler, {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   limits: { ...DEFAULT_CONNECTION_TIMEOUTS, maxConnections: 128 },
 *   onError: () => new Response("Internal Server Error", { status: 500 }),
 *   logger: jsonLogger(),
 * });
 * ```
 */
export interface GuardedServerOptions {
  /** The address to listen on. */
  hostname: string;
  /** The port; 0 picks a free one. */
  port: number;
  /** The bounds in force. */
  limits: ConnectionLimits;
  /** Answers a handler's error (see Deno.ServeOptions.onError). */
  onError: (err: unknown) => Response | Promise<Response>;
  /** Gets the refusals and timeouts worth a warning. */
  logger: Logger;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

export interface GuardedServer {
  addr: Deno.NetAddr;
  /** Settles when the server has stopped and every connection is closed. */
  finished: Promise<void>;
  /** Stops accepting, closes waiting connections, waits for requests in progress. */
  shutdown(): Promise<void>;
  stats(): ConnectionStats;
}

type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

interface ConnectionServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: Handler,
  onError: (err: unknown) => Response | Promise<Response>,
  onListen: () => void,
) => ConnectionServer;

/** Deno's `serveHttpOnConnection`, when this Deno has it. */
export function serveOnConnection(): ServeOnConnection | undefined {
  const deno = Deno as unknown as Record<symbol, unknown> & {
    internal?: symbol;
  };
  const internal = deno.internal === undefined
    ? undefined
    : deno[deno.internal] as Record<string, unknown> | undefined;
  const fn = internal?.serveHttpOnConnection;
  return typeof fn === "function" ? fn as ServeOnConnection : undefined;
}

/** How long a cancelled connection may take to close before it is cancelled again. */
const CLOSE_GRACE_MS = 1000;

/** The reasons a connection is closed by the server. */
type Cut = "header" | "idle" | "request" | "evicted" | "shutdown";

/**
 * Serves `handler` on `hostname:port` within `limits`, or returns
 * `undefined` when this Deno cannot serve an accepted connection.
 */
export function serveGuarded(
  handler: Handler,
  options: GuardedServerOptions,
): GuardedServer | undefined {
  const serveOn = serveOnConnection();
  if (!serveOn) return undefined;
  const { limits, logger } = options;
  const now = options.now ?? Date.now;
  const listener: Deno.TcpListener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
  });
  const stats: ConnectionStats = {
    open: 0,
    waiting: 0,
    accepted: 0,
    rejected: 0,
    evicted: 0,
    timedOut: { header: 0, idle: 0, request: 0 },
    fdExhausted: 0,
  };
  /** Every open connection, those being closed included. */
  const open = new Set<Connection>();
  /** Those without a request in progress, the longest waiting first. */
  const waiting = new Set<Connection>();
  /** Those being closed: still holding a descriptor, not counted against the limit. */
  let closingCount = 0;
  let closing = false;
  let allClosed: () => void = () => {};
  const drained = new Promise<void>((r) => (allClosed = r));
  const noop = () => {};

  class Connection {
    requests = 0;
    /** Requests not yet completely answered. */
    active = 0;
    /** Of them, answered with an event stream (no time limit). */
    streams = 0;
    /** When it started waiting (accepted, or its last response ended). */
    since = now();
    /** When its requests in progress began. */
    activeSince = 0;
    /** When the server began to close it (0: it has not). */
    closingSince = 0;
    gone = false;
    /**
     * Closes the connection at once. Deno's HTTP server takes it as the
     * listener of an abort signal, which throws from inside the signal's
     * dispatch (an uncaught error: the process ends) when the connection
     * has just closed by itself; called here, the error is caught.
     */
    cancel: () => void = () => {};
    readonly signal = {
      addEventListener: (_type: string, cancel: () => void) => {
        this.cancel = cancel;
      },
    } as unknown as AbortSignal;
    server?: ConnectionServer;

    readonly done = () => {
      if (--this.active === 0) {
        this.streams = 0;
        this.since = now();
        if (!this.gone && !this.closingSince) waiting.add(this);
      }
    };
    readonly answered = (res: Response) => {
      if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
        this.streams++;
      }
      return res;
    };
    readonly handle: Handler = (req, info) => {
      this.requests++;
      if (this.active++ === 0) {
        waiting.delete(this);
        this.activeSince = now();
      }
      info.completed.then(this.done, this.done);
      const res = handler(req, info);
      return res instanceof Promise
        ? res.then(this.answered)
        : this.answered(res);
    };
  }

  /** Deno has closed it. */
  const forget = (c: Connection) => {
    if (c.gone) return;
    c.gone = true;
    if (c.closingSince) closingCount--;
    open.delete(c);
    waiting.delete(c);
    if (closing && open.size === 0) allClosed();
  };

  const cancel = (c: Connection) => {
    try {
      c.cancel();
    } catch { /* it had closed already */ }
  };

  /**
   * Closes a connection: cancels it, or with `gracefully` lets Deno finish
   * what it is sending first. Deno counts a body given whole as answered
   * at once, so a connection without a request in progress may still be
   * sending one; but a graceful close waits for a client that does not
   * read, and cannot be cancelled once begun: only shutdown uses it.
   */
  const cut = (c: Connection, why: Cut, gracefully = false) => {
    if (c.gone || c.closingSince) return;
    if (why === "evicted") stats.evicted++;
    else if (why !== "shutdown") stats.timedOut[why]++;
    c.closingSince = now();
    closingCount++;
    waiting.delete(c);
    if (gracefully) c.server?.shutdown().catch(noop);
    else cancel(c);
  };

  const admit = (conn: Deno.TcpConn) => {
    if (open.size - closingCount >= limits.maxConnections) {
      const oldest = waiting.values().next();
      if (oldest.done) {
        stats.rejected++;
        warnSometimes("connection limit reached: answered 503");
        refusing.refuse(conn);
        return;
      }
      cut(oldest.value, "evicted");
      warnSometimes("connection limit reached: closed a waiting connection");
    }
    stats.accepted++;
    conn.setNoDelay(true);
    const c = new Connection();
    open.add(c);
    waiting.add(c);
    c.server = serveOn(conn, c.signal, c.handle, options.onError, noop);
    c.server.finished.then(
      () => forget(c),
      (err) => {
        logger.debug("connection failed", { error: String(err) });
        forget(c);
      },
    );
  };

  const refusing = new ConnectionRefuser(limits.maxConnections);

  // Each warning at most every 10 s: an attack is thousands of connections.
  const warnedAt = new Map<string, number>();
  const warnSometimes = (msg: string) => {
    const t = now();
    if (t - (warnedAt.get(msg) ?? -Infinity) < 10_000) return;
    warnedAt.set(msg, t);
    logger.warn(msg, {
      maxConnections: limits.maxConnections,
      ...snapshot(),
    });
  };

  const sweep = () => {
    const t = now();
    for (const c of open) {
      if (c.closingSince) {
        if (t - c.closingSince > CLOSE_GRACE_MS) cancel(c); // once more
      } else if (c.active > 0) {
        if (
          c.streams === 0 && t - c.activeSince > limits.requestTimeoutMs
        ) {
          logger.warn("request timed out", {
            requestTimeoutMs: limits.requestTimeoutMs,
          });
          cut(c, "request");
        }
      } else {
        const first = c.requests === 0;
        if (
          t - c.since > (first ? limits.headerTimeoutMs : limits.idleTimeoutMs)
        ) {
          cut(c, first ? "header" : "idle");
        }
      }
    }
  };
  const tick = Math.min(
    1000,
    Math.max(
      20,
      Math.min(
        limits.headerTimeoutMs,
        limits.idleTimeoutMs,
        limits.requestTimeoutMs,
      ) / 4,
    ),
  );
  const ticker = setInterval(sweep, tick);

  const accepting = (async () => {
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing) break;
        if (/os error 2[34]\b|too many open files/i.test(String(err))) {
          stats.fdExhausted++;
          // Free a descriptor, then try again.
          const oldest = waiting.values().next();
          if (!oldest.done) cut(oldest.value, "evicted");
          warnSometimes("out of file descriptors while accepting");
        } else {
          logger.warn("accept failed", { error: String(err) });
        }
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (closing) {
        conn.close();
        break;
      }
      admit(conn);
    }
  })();

  const snapshot = (): ConnectionStats => ({
    ...stats,
    timedOut: { ...stats.timedOut },
    open: open.size,
    waiting: waiting.size,
  });

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      closing = true;
      try {
        listener.close();
      } catch { /* closed already */ }
      await accepting;
      if (open.size === 0) allClosed();
      for (const c of [...open]) {
        // A connection that never had a request has nothing to finish.
        if (c.active === 0) cut(c, "shutdown", c.requests > 0);
        else c.server?.shutdown().catch(noop);
      }
      await drained;
      clearInterval(ticker);
    })();

  return {
    addr: listener.addr as Deno.NetAddr,
    finished: drained.then(() => stopping),
    shutdown,
    stats: snapshot,
  };
}
