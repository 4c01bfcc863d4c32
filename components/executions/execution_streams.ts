/**
 * The live execution streams of this process: how many may be open (per
 * tenant and in all), one shared reader per tenant that hands each new
 * execution to every stream (TenantFanout), a bounded buffer per stream
 * that drops a client that falls behind (SseChannel), and the catch-up of a
 * stream that resumes with `Last-Event-ID`.
 *
 * A resumed stream first reads what it missed from the store itself, at
 * the pace its client reads (it waits for room in its buffer, it is never
 * dropped for it), then joins the shared reader where that one is. Both
 * read the tenant's log, in the order the executions were committed (see
 * execution_log.ts), so however many processes record them and whatever
 * their clocks, a stream gets every execution once, and a client that was
 * dropped and resumes gets every execution committed after its last one,
 * in order, once.
 */
import {
  DEFAULT_SSE_BUFFER_BYTES,
  encodeSse,
  SseChannel,
  type SseEnd,
} from "@jobico/goico";
import {
  type ExecutionFilter,
  type ExecutionStore,
  matches,
} from "./execution_store.ts";
import { LOG_START } from "./execution_log.ts";
import { StreamSlots } from "./stream_slots.ts";
import { type FanoutSubscriber, TenantFanout } from "./tenant_fanout.ts";

/** Streams open at once in a process when not set. */
export const DEFAULT_MAX_STREAMS = 500;
/** Streams one tenant may hold open at once when not set. */
export const DEFAULT_MAX_STREAMS_PER_TENANT = 50;
/** Bytes that may wait for one stream's client when not set (256 KiB). */
export const DEFAULT_STREAM_BUFFER_BYTES = DEFAULT_SSE_BUFFER_BYTES;

/**
 * The bounds of the live execution streams of one process.
 *
 * @example
 * ```ts
 * const streams = new ExecutionStreams(executions, shutdown.signal, {
 *   maxStreams: 100,
 *   maxStreamsPerTenant: 10,
 *   onError: (tenant, err) => logger.error("stream reader failed", { tenant, error: String(err) }),
 * });
 * ```
 */
export interface ExecutionStreamsOptions {
  /**
   * Streams open at once in this process (500).
   *
   * @default {DEFAULT_MAX_STREAMS}
   */
  maxStreams?: number;
  /**
   * Streams one tenant may hold open at once (50).
   *
   * @default {DEFAULT_MAX_STREAMS_PER_TENANT}
   */
  maxStreamsPerTenant?: number;
  /**
   * Bytes that may wait for a stream's client; a stream whose client falls
   * further behind is dropped (256 KiB).
   *
   * @default {DEFAULT_STREAM_BUFFER_BYTES}
   */
  bufferBytes?: number;
  /**
   * `Retry-After` of a stream refused for a limit, in seconds.
   *
   * @default {5}
   */
  retryAfterSeconds?: number;
  /**
   * Keep-alive comment interval, in ms.
   *
   * @default {15000}
   */
  heartbeatMs?: number;
  /**
   * How long a dropped stream's client has to take its last event before
   * the connection is cut, in ms.
   *
   * @default {5000}
   */
  dropGraceMs?: number;
  /**
   * Told when a tenant's reader fails.
   *
   * @default {undefined}
   */
  onError?: (tenant: string, err: unknown) => void;
  /**
   * Why the client that opened a stream with `credential` (what `open` was
   * given: its Authorization header) may no longer read `tenant`'s
   * executions (its token was rotated or revoked, the tenant deleted), or
   * null while it still may. Asked for every open stream every
   * `recheckMs` and on `recheck()`; a stream it gives a reason for ends
   * with a last `revoked` event. Without it streams are never rechecked.
   *
   * @default {undefined}
   */
  revoked?: (tenant: string, credential: string | null) => Promise<
    string | null
  >;
  /**
   * How often the open streams' credentials are checked again, in ms.
   *
   * @default {2000}
   */
  recheckMs?: number;
}

/** One open stream, as `stats()` shows it. */
export interface StreamInfo {
  tenant: string;
  /** Following new executions (false: still catching up after a resume). */
  live: boolean;
  /** Dropped for falling behind (it ends once its client takes the last event, or is cut). */
  dropped: boolean;
  /** The id of the last execution handed to it (or passed over by its filter). */
  position: string | null;
  bufferedBytes: number;
  peakBufferedBytes: number;
}

export interface StreamStats {
  open: number;
  maxStreams: number;
  maxStreamsPerTenant: number;
  bufferBytes: number;
  /** Streams that ended, by how (since the process started). */
  ended: Record<SseEnd, number>;
  /** Streams refused for a limit. */
  refused: number;
  streams: StreamInfo[];
}

/**
 * An id before every execution id: a Last-Event-ID of it gets everything
 * (ids are 19 base-36 characters of time first).
 */
export const BEFORE_ALL = "0".repeat(19);

interface OpenStream {
  tenant: string;
  sub: FanoutSubscriber;
  credential: string | null;
}

/** Executions a resuming stream reads from the store at once. */
const CATCH_UP_PAGE = 100;

export class ExecutionStreams {
  readonly #slots: StreamSlots;
  readonly #fanouts = new Map<string, TenantFanout>();
  readonly #open = new Set<OpenStream>();
  readonly #ended: Record<SseEnd, number> = {
    closed: 0,
    gone: 0,
    dropped: 0,
    revoked: 0,
    shutdown: 0,
    cut: 0,
  };
  readonly #revoked: ExecutionStreamsOptions["revoked"];
  readonly #recheckMs: number;
  /** Runs while streams are open (and the `revoked` option is given). */
  #recheckTimer: ReturnType<typeof setInterval> | undefined;
  #rechecking = false;
  #refused = 0;
  readonly bufferBytes: number;
  readonly #heartbeatMs: number | undefined;
  readonly #dropGraceMs: number | undefined;
  readonly #onError: ExecutionStreamsOptions["onError"];

  constructor(
    private readonly store: ExecutionStore,
    private readonly shutdown: AbortSignal,
    options: ExecutionStreamsOptions = {},
  ) {
    this.#slots = new StreamSlots({
      maxStreams: options.maxStreams ?? DEFAULT_MAX_STREAMS,
      maxStreamsPerTenant: options.maxStreamsPerTenant ??
        DEFAULT_MAX_STREAMS_PER_TENANT,
      retryAfterSeconds: options.retryAfterSeconds ?? 5,
    });
    this.bufferBytes = options.bufferBytes ?? DEFAULT_STREAM_BUFFER_BYTES;
    this.#heartbeatMs = options.heartbeatMs;
    this.#dropGraceMs = options.dropGraceMs;
    this.#onError = options.onError;
    this.#revoked = options.revoked;
    this.#recheckMs = options.recheckMs ?? 2000;
    shutdown.addEventListener("abort", () => {
      clearInterval(this.#recheckTimer);
      for (const f of this.#fanouts.values()) f.stop();
      this.#fanouts.clear();
    }, { once: true });
  }

  /**
   * Opens a stream of a tenant's executions that pass `filter`: those after
   * `lastEventId` when given (what the client missed, then new ones),
   * otherwise only new ones. `credential` is what the client proved its
   * right with (see the `revoked` option).
   *
   * @throws {TooManyError} when the tenant or the process has as many streams open as it may
   */
  open(
    tenant: string,
    filter: ExecutionFilter,
    lastEventId: string | null,
    credential: string | null = null,
  ): Response {
    let release: () => void;
    try {
      release = this.#slots.acquire(tenant);
    } catch (err) {
      this.#refused++;
      throw err;
    }
    const channel = new SseChannel({
      maxBufferedBytes: this.bufferBytes,
      heartbeatMs: this.#heartbeatMs,
      dropGraceMs: this.#dropGraceMs,
      signal: this.shutdown,
    });
    const sub: FanoutSubscriber = {
      channel,
      filter,
      after: LOG_START,
      lastId: lastEventId,
      live: false,
    };
    const entry = { tenant, sub, credential };
    this.#open.add(entry);
    this.#scheduleRecheck();
    const fanout = this.#fanout(tenant);
    fanout.add(sub);
    channel.ended.then((how) => {
      release();
      this.#ended[how]++;
      this.#open.delete(entry);
      if (this.#open.size === 0) {
        clearInterval(this.#recheckTimer);
        this.#recheckTimer = undefined;
      }
      fanout.remove(sub);
      if (fanout.size === 0 && this.#fanouts.get(tenant) === fanout) {
        fanout.stop();
        this.#fanouts.delete(tenant);
      }
    });
    this.#join(fanout, sub, lastEventId).catch((err) => {
      this.#onError?.(tenant, err);
      channel.drop(`The server could not read the executions of "${tenant}"`);
    });
    return channel.response();
  }

  /**
   * Checks the credentials of the open streams (of `tenant`, or all) now,
   * and ends those `revoked` gives a reason for: after a token rotation or
   * a tenant's deletion in this process. Others notice within `recheckMs`.
   */
  async recheck(tenant?: string): Promise<void> {
    const check = this.#revoked;
    if (!check) return;
    const verdicts = new Map<string, Promise<string | null>>();
    const ends: Promise<void>[] = [];
    for (const s of this.#open) {
      if (tenant !== undefined && s.tenant !== tenant) continue;
      // One check for the streams of one tenant opened with one credential.
      const key = `${s.tenant}\0${s.credential ?? ""}`;
      let verdict = verdicts.get(key);
      if (!verdict) {
        verdict = check(s.tenant, s.credential).catch((err) => {
          // Unknown (the store failed): checked again next time.
          this.#onError?.(s.tenant, err);
          return null;
        });
        verdicts.set(key, verdict);
      }
      ends.push(verdict.then((why) => {
        if (why !== null) s.sub.channel.revoke(why);
      }));
    }
    await Promise.all(ends);
  }

  /** Starts the periodic recheck with the first open stream. */
  #scheduleRecheck(): void {
    if (!this.#revoked || this.#recheckTimer !== undefined) return;
    if (this.shutdown.aborted) return;
    this.#recheckTimer = setInterval(() => {
      if (this.#rechecking) return;
      this.#rechecking = true;
      this.recheck().finally(() => (this.#rechecking = false));
    }, this.#recheckMs);
  }

  /** What is open now and how streams ended. */
  stats(): StreamStats {
    return {
      open: this.#slots.open,
      maxStreams: this.#slots.limits.maxStreams,
      maxStreamsPerTenant: this.#slots.limits.maxStreamsPerTenant,
      bufferBytes: this.bufferBytes,
      ended: { ...this.#ended },
      refused: this.#refused,
      streams: [...this.#open].map(({ tenant, sub }) => ({
        tenant,
        live: sub.live,
        dropped: sub.channel.dropReason !== undefined,
        position: sub.lastId,
        bufferedBytes: sub.channel.bufferedBytes,
        peakBufferedBytes: sub.channel.peakBufferedBytes,
      })),
    };
  }

  #fanout(tenant: string): TenantFanout {
    let f = this.#fanouts.get(tenant);
    if (!f || f.stopped) {
      f = new TenantFanout(this.store, tenant, {
        groupBytes: Math.max(1024, Math.floor(this.bufferBytes / 4)),
        onError: (err) => this.#onError?.(tenant, err),
      });
      this.#fanouts.set(tenant, f);
    }
    return f;
  }

  /**
   * Makes a subscriber live: at once after the shared reader's position for
   * a new stream; after reading what it missed for a resumed one.
   */
  async #join(
    fanout: TenantFanout,
    sub: FanoutSubscriber,
    resume: string | null,
  ): Promise<void> {
    await fanout.ready;
    // Where a client dropped before it got anything resumes from.
    sub.channel.startAfter(resume ?? fanout.lastId ?? BEFORE_ALL);
    if (resume === null) {
      sub.after = fanout.position;
      sub.lastId = fanout.lastId;
      sub.live = true;
      return;
    }
    let cursor = resume === BEFORE_ALL
      ? LOG_START
      : await this.store.log.after(fanout.tenant, resume);
    const { channel } = sub;
    // What the shared reader has read, this stream has too: join it.
    while (channel.open && cursor < fanout.position) {
      const page = await this.store.log.read(
        fanout.tenant,
        cursor,
        CATCH_UP_PAGE,
      );
      for (const { execution: e } of page.entries) {
        sub.lastId = e.id;
        if (!matches(e, sub.filter)) continue;
        const bytes = encodeSse({
          event: "execution",
          id: e.id,
          data: JSON.stringify(e),
        });
        if (!await channel.write(bytes, e.id)) return;
      }
      // A read ends where the log ended when it began (or at a full
      // page): it never stops short of the reader's position of before.
      cursor = page.through;
    }
    // No await since the check above: the reader has not moved on meanwhile.
    if (!channel.open) return;
    sub.after = cursor;
    sub.live = true;
  }
}
