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

const noop = () => {};

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
  const listener: Deno.TcpListener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
  });
  const guard = new Guard(handler, serveOn, options);
  const accepting = guard.accept(listener);
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= guard.shutdown(() => {
      try {
        listener.close();
      } catch { /* closed already */ }
      return accepting;
    });
  return {
    addr: listener.addr as Deno.NetAddr,
    finished: guard.drained.then(() => stopping),
    shutdown,
    stats: () => guard.snapshot(),
  };
}

/** What a connection tells the server it belongs to. */
interface ConnectionOwner {
  readonly handler: Handler;
  now(): number;
  /** Its first request began: it no longer waits. */
  busy(c: Connection): void;
  /** Its last request in progress ended: it waits for the next one. */
  idle(c: Connection): void;
}

/** One accepted connection and the requests in progress on it. */
class Connection {
  requests = 0;
  /** Requests not yet completely answered. */
  active = 0;
  /** Of them, answered with an event stream (no time limit). */
  streams = 0;
  /** When it started waiting (accepted, or its last response ended). */
  since: number;
  /** When its requests in progress began. */
  activeSince = 0;
  /** When the server began to close it (0: it has not). */
  closingSince = 0;
  gone = false;
  /**
   * Closes the connection at once. Deno's HTTP server takes it as the
   * listener of an abort signal, which throws from inside the signal's
   * dispatch (an uncaught error: the process ends) when the connection
   * has just closed by itself; called through `cancel()` the error is
   * caught.
   */
  #cancel: () => void = noop;
  readonly signal = {
    addEventListener: (_type: string, cancel: () => void) => {
      this.#cancel = cancel;
    },
  } as unknown as AbortSignal;
  server?: ConnectionServer;

  constructor(readonly owner: ConnectionOwner) {
    this.since = owner.now();
  }

  cancel(): void {
    try {
      this.#cancel();
    } catch { /* it had closed already */ }
  }

  readonly done = () => {
    if (--this.active === 0) {
      this.streams = 0;
      this.since = this.owner.now();
      this.owner.idle(this);
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
      this.activeSince = this.owner.now();
      this.owner.busy(this);
    }
    info.completed.then(this.done, this.done);
    const res = this.owner.handler(req, info);
    return res instanceof Promise
      ? res.then(this.answered)
      : this.answered(res);
  };

  /** Why it is to be closed at `t`, if it is. */
  overdue(t: number, limits: ConnectionLimits): Cut | undefined {
    if (this.active > 0) {
      return this.streams === 0 &&
          t - this.activeSince > limits.requestTimeoutMs
        ? "request"
        : undefined;
    }
    const first = this.requests === 0;
    const limit = first ? limits.headerTimeoutMs : limits.idleTimeoutMs;
    return t - this.since > limit ? (first ? "header" : "idle") : undefined;
  }
}

/** How often connections are checked: a quarter of the shortest limit, 20 ms to 1 s. */
function sweepInterval(limits: ConnectionLimits): number {
  const shortest = Math.min(
    limits.headerTimeoutMs,
    limits.idleTimeoutMs,
    limits.requestTimeoutMs,
  );
  return Math.min(1000, Math.max(20, shortest / 4));
}

/** The connections of one guarded server: admission, timeouts, shutdown. */
class Guard implements ConnectionOwner {
  readonly stats: ConnectionStats = {
    open: 0,
    waiting: 0,
    accepted: 0,
    rejected: 0,
    evicted: 0,
    timedOut: { header: 0, idle: 0, request: 0 },
    fdExhausted: 0,
  };
  /** Every open connection, those being closed included. */
  readonly open = new Set<Connection>();
  /** Those without a request in progress, the longest waiting first. */
  readonly waiting = new Set<Connection>();
  /** Those being closed: still holding a descriptor, not counted against the limit. */
  closingCount = 0;
  closing = false;
  /** Settles when the server is closing and no connection is left. */
  readonly drained: Promise<void>;
  readonly now: () => number;
  readonly #allClosed: () => void;
  readonly #refusing: ConnectionRefuser;
  readonly #ticker: ReturnType<typeof setInterval>;
  /** When each warning was last given: at most one every 10 s. */
  readonly #warnedAt = new Map<string, number>();

  constructor(
    readonly handler: Handler,
    readonly serveOn: ServeOnConnection,
    readonly options: GuardedServerOptions,
  ) {
    this.now = options.now ?? Date.now;
    let allClosed = noop;
    this.drained = new Promise<void>((r) => (allClosed = r));
    this.#allClosed = allClosed;
    this.#refusing = new ConnectionRefuser(options.limits.maxConnections);
    this.#ticker = setInterval(
      () => this.sweep(),
      sweepInterval(options.limits),
    );
  }

  busy(c: Connection): void {
    this.waiting.delete(c);
  }

  idle(c: Connection): void {
    if (!c.gone && !c.closingSince) this.waiting.add(c);
  }

  /** Deno has closed it. */
  forget(c: Connection): void {
    if (c.gone) return;
    c.gone = true;
    if (c.closingSince) this.closingCount--;
    this.open.delete(c);
    this.waiting.delete(c);
    if (this.closing && this.open.size === 0) this.#allClosed();
  }

  /**
   * Closes a connection: cancels it, or with `gracefully` lets Deno finish
   * what it is sending first. Deno counts a body given whole as answered
   * at once, so a connection without a request in progress may still be
   * sending one; but a graceful close waits for a client that does not
   * read, and cannot be cancelled once begun: only shutdown uses it.
   */
  cut(c: Connection, why: Cut, gracefully = false): void {
    if (c.gone || c.closingSince) return;
    if (why === "evicted") this.stats.evicted++;
    else if (why !== "shutdown") this.stats.timedOut[why]++;
    c.closingSince = this.now();
    this.closingCount++;
    this.waiting.delete(c);
    if (gracefully) c.server?.shutdown().catch(noop);
    else c.cancel();
  }

  /** Closes the connection that has waited longest, if one waits. */
  evictOldest(): boolean {
    const oldest = this.waiting.values().next();
    if (oldest.done) return false;
    this.cut(oldest.value, "evicted");
    return true;
  }

  admit(conn: Deno.TcpConn): void {
    if (
      this.open.size - this.closingCount >= this.options.limits.maxConnections
    ) {
      if (!this.evictOldest()) {
        this.stats.rejected++;
        this.warnSometimes("connection limit reached: answered 503");
        this.#refusing.refuse(conn);
        return;
      }
      this.warnSometimes(
        "connection limit reached: closed a waiting connection",
      );
    }
    this.stats.accepted++;
    conn.setNoDelay(true);
    const c = new Connection(this);
    this.open.add(c);
    this.waiting.add(c);
    c.server = this.serveOn(
      conn,
      c.signal,
      c.handle,
      this.options.onError,
      noop,
    );
    c.server.finished.then(
      () => this.forget(c),
      (err) => {
        this.options.logger.debug("connection failed", { error: String(err) });
        this.forget(c);
      },
    );
  }

  /** Accepts until closing; running out of descriptors frees one and goes on. */
  async accept(listener: Deno.TcpListener): Promise<void> {
    while (!this.closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.closing) break;
        if (/os error 2[34]\b|too many open files/i.test(String(err))) {
          this.stats.fdExhausted++;
          this.evictOldest();
          this.warnSometimes("out of file descriptors while accepting");
        } else {
          this.options.logger.warn("accept failed", { error: String(err) });
        }
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (this.closing) {
        conn.close();
        break;
      }
      this.admit(conn);
    }
  }

  /** Closes what is past its time; cancels again what is slow to close. */
  sweep(): void {
    const t = this.now();
    const { limits, logger } = this.options;
    for (const c of this.open) {
      if (c.closingSince) {
        if (t - c.closingSince > CLOSE_GRACE_MS) c.cancel(); // once more
        continue;
      }
      const why = c.overdue(t, limits);
      if (!why) continue;
      if (why === "request") {
        logger.warn("request timed out", {
          requestTimeoutMs: limits.requestTimeoutMs,
        });
      }
      this.cut(c, why);
    }
  }

  /** An attack is thousands of connections: each warning at most every 10 s. */
  warnSometimes(msg: string): void {
    const t = this.now();
    if (t - (this.#warnedAt.get(msg) ?? -Infinity) < 10_000) return;
    this.#warnedAt.set(msg, t);
    this.options.logger.warn(msg, {
      maxConnections: this.options.limits.maxConnections,
      ...this.snapshot(),
    });
  }

  snapshot(): ConnectionStats {
    return {
      ...this.stats,
      timedOut: { ...this.stats.timedOut },
      open: this.open.size,
      waiting: this.waiting.size,
    };
  }

  /**
   * Stops accepting (`stopAccepting` closes the listener and settles when
   * the accept loop has ended), closes waiting connections, lets requests
   * in progress finish, and settles when every connection is closed.
   */
  async shutdown(stopAccepting: () => Promise<void>): Promise<void> {
    this.closing = true;
    await stopAccepting();
    if (this.open.size === 0) this.#allClosed();
    for (const c of [...this.open]) {
      // A connection that never had a request has nothing to finish.
      if (c.active === 0) this.cut(c, "shutdown", c.requests > 0);
      else c.server?.shutdown().catch(noop);
    }
    await this.drained;
    clearInterval(this.#ticker);
  }
}
