/**
 * One Server-Sent Events stream with a bounded buffer. Messages wait in the
 * channel until the connection takes them: the response body is pulled only
 * as fast as the socket drains (Deno reads the next chunk once the previous
 * one is written), so what waits here is what the client has not read yet.
 *
 * Two ways in: `write` waits for room (a producer that can pause, such as
 * a catch-up read), `offer` never waits and drops the stream instead when
 * the message would not fit (a producer that serves many streams and must
 * not be held back by one). A message always fits an empty buffer, so a
 * message larger than the buffer still goes through on its own.
 *
 * A dropped stream loses what was waiting, gets a last `dropped` event
 * naming the reason and ends; a client resumes with `Last-Event-ID`. A
 * client that does not take even that last event within `dropGraceMs` has
 * its connection cut (the body stream errors), so a client that stopped
 * reading holds neither memory nor its socket for long.
 */
import { encodeSse } from "./sse_message.ts";

/** The buffer of a stream when none is given: 256 KiB. */
export const DEFAULT_SSE_BUFFER_BYTES = 256 * 1024;

/**
 * How much an {@linkcode SseChannel} buffers and how it keeps the stream
 * alive.
 *
 * @example
 * ```ts
 * const channel = new SseChannel({ maxBufferedBytes: 64 * 1024, signal });
 * ```
 */
export interface SseChannelOptions {
  /**
   * Bytes that may wait for the client. A message offered beyond them
   * drops the stream; one written waits.
   *
   * @default {DEFAULT_SSE_BUFFER_BYTES} (256 KiB)
   */
  maxBufferedBytes?: number;
  /**
   * A comment line is sent this often, in ms (when nothing waits), to keep
   * proxies from closing the stream.
   *
   * @default {15000}
   */
  heartbeatMs?: number;
  /**
   * How long a dropped (or shut down) stream has to take its last event
   * before its connection is cut, in ms.
   *
   * @default {5000}
   */
  dropGraceMs?: number;
  /**
   * Aborted when the server shuts down: the stream ends once what waits is
   * taken, or is cut after `dropGraceMs`.
   *
   * @default {undefined} (only the client ends it)
   */
  signal?: AbortSignal;
}

/**
 * How a stream ended: its producer closed it (`closed`), the client left
 * (`gone`), it fell behind and was dropped (`dropped`), its client lost
 * the right to read it (`revoked`), the server shut down (`shutdown`), or
 * after a drop, revocation or shutdown the client took nothing within the
 * grace period and the connection was cut (`cut`).
 */
export type SseEnd =
  | "closed"
  | "gone"
  | "dropped"
  | "revoked"
  | "shutdown"
  | "cut";

/** The error a cut stream's body fails with (the server logs it). */
export class SseCutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SseCutError";
  }
}

type State = "open" | "closing" | "ending" | "ended";

const CONNECTED = new TextEncoder().encode(": connected\n\n");
const KEEP_ALIVE = new TextEncoder().encode(": keep-alive\n\n");

export class SseChannel {
  /** The response body. */
  readonly body: ReadableStream<Uint8Array>;
  /** Resolves once the stream has ended, with how. */
  readonly ended: Promise<SseEnd>;
  readonly maxBufferedBytes: number;
  readonly #graceMs: number;
  readonly #ctrl = new AbortController();
  readonly #shutdown?: AbortSignal;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #state: State = "open";
  /** How the stream ends once its last bytes are taken (states "closing" and "ending"). */
  #endAs: SseEnd = "closed";
  #queue: Uint8Array[] = [];
  #buffered = 0;
  #peak = 0;
  #lastId: string | undefined;
  #lastQueuedId: string | undefined;
  #dropReason: string | undefined;
  /** Resolves the pull the body is waiting on. */
  #pulling: (() => void) | undefined;
  /** `write` calls waiting for room. */
  #writers: (() => void)[] = [];
  #heartbeat: ReturnType<typeof setInterval>;
  #grace: ReturnType<typeof setTimeout> | undefined;
  #resolveEnded!: (end: SseEnd) => void;
  readonly #onShutdown = () => {
    if (this.#state !== "open") return;
    this.#endAs = "shutdown";
    this.#cutAfterGrace("the server shut down");
    this.close();
  };

  constructor(options: SseChannelOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ??
      DEFAULT_SSE_BUFFER_BYTES;
    this.#graceMs = options.dropGraceMs ?? 5000;
    this.ended = new Promise((r) => (this.#resolveEnded = r));
    this.body = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        const pulled = new Promise<void>((r) => (this.#pulling = r));
        this.#pump();
        return pulled;
      },
      cancel: () => this.#end("gone"),
    }, { highWaterMark: 0 });
    this.#push(CONNECTED);
    this.#heartbeat = setInterval(() => {
      if (this.#state === "open" && this.#queue.length === 0) {
        this.#push(KEEP_ALIVE);
      }
    }, options.heartbeatMs ?? 15_000);
    this.#shutdown = options.signal;
    this.#shutdown?.addEventListener("abort", this.#onShutdown, { once: true });
    // An already aborted signal fires no event.
    if (this.#shutdown?.aborted) this.#onShutdown();
  }

  /** A `text/event-stream` response with this channel as its body. */
  response(): Response {
    return new Response(this.body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  }

  /** Aborts once the stream takes no more messages (ended, dropped, closing). */
  get signal(): AbortSignal {
    return this.#ctrl.signal;
  }

  /** Whether the stream still takes messages. */
  get open(): boolean {
    return this.#state === "open";
  }

  /** Bytes waiting for the client now. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** The most bytes that ever waited for the client at once. */
  get peakBufferedBytes(): number {
    return this.#peak;
  }

  /** The id of the last message the connection took (written or being written). */
  get lastSentId(): string | undefined {
    return this.#lastId;
  }

  /**
   * Sets the id the stream starts after, the `lastEventId` of a `dropped`
   * event when the connection took no message with an id (so a client that
   * got nothing still resumes from the right place).
   */
  startAfter(id: string): void {
    this.#lastId ??= id;
  }

  /** Why the stream was dropped, once it was. */
  get dropReason(): string | undefined {
    return this.#dropReason;
  }

  /**
   * Queues encoded message bytes (one message or several; `id` is the last
   * one's) unless they would pass the buffer, in which case the stream is
   * dropped. False when the stream was dropped or takes no more messages.
   */
  offer(bytes: Uint8Array, id?: string): boolean {
    if (this.#state !== "open") return false;
    if (
      this.#buffered > 0 &&
      this.#buffered + bytes.length > this.maxBufferedBytes
    ) {
      this.drop(
        `The client fell behind: ${this.#buffered} bytes were waiting for it and ${bytes.length} more came (its buffer holds ${this.maxBufferedBytes})`,
      );
      return false;
    }
    this.#push(bytes, id);
    return true;
  }

  /**
   * Queues encoded message bytes once there is room for them. False when
   * the stream ended (or was dropped) before there was.
   */
  async write(bytes: Uint8Array, id?: string): Promise<boolean> {
    while (
      this.#state === "open" && this.#buffered > 0 &&
      this.#buffered + bytes.length > this.maxBufferedBytes
    ) {
      await new Promise<void>((r) => this.#writers.push(r));
    }
    if (this.#state !== "open") return false;
    this.#push(bytes, id);
    return true;
  }

  /** `offer` for one message. */
  send(msg: { event?: string; id?: string; data: string }): boolean {
    return this.offer(encodeSse(msg), msg.id);
  }

  /** Ends the stream once what waits has been taken. */
  close(): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#ctrl.abort();
    this.#pump();
  }

  /**
   * Drops the stream: what waits is thrown away, a last `dropped` event
   * says why, and the stream ends (or is cut after the grace period).
   */
  drop(reason: string): void {
    if (this.#state !== "open" && this.#state !== "closing") return;
    this.#dropReason = reason;
    this.#finish(
      "dropped",
      encodeSse({
        event: "dropped",
        data: JSON.stringify({
          reason,
          lastEventId: this.#lastId ?? null,
          hint: "reconnect with Last-Event-ID to get what was missed",
        }),
      }),
      "it was dropped",
    );
  }

  /**
   * Ends the stream because its client may no longer read it (its token was
   * rotated or revoked, its tenant deleted): what waits is thrown away
   * unsent, a last `revoked` event says why, and the stream ends (or is cut
   * after the grace period). Works on a dropped stream too.
   */
  revoke(reason: string): void {
    if (this.#state === "ended") return;
    this.#state = "open";
    this.#finish(
      "revoked",
      encodeSse({ event: "revoked", data: JSON.stringify({ reason }) }),
      "it was revoked",
    );
  }

  #finish(as: SseEnd, last: Uint8Array, why: string): void {
    if (this.#state !== "open" && this.#state !== "closing") return;
    this.#state = "ending";
    this.#endAs = as;
    this.#queue = [last];
    this.#buffered = last.length;
    this.#lastQueuedId = undefined;
    this.#ctrl.abort();
    this.#wakeWriters();
    this.#cutAfterGrace(why);
    this.#pump();
  }

  /** Cuts the connection unless the stream has ended within the grace period. */
  #cutAfterGrace(why: string): void {
    clearTimeout(this.#grace);
    this.#grace = setTimeout(() => {
      try {
        this.#controller.error(
          new SseCutError(
            `An event stream was cut: its client took nothing for ${this.#graceMs} ms after ${why}`,
          ),
        );
      } catch {
        // Closed meanwhile.
      }
      this.#end("cut");
    }, this.#graceMs);
  }

  #push(bytes: Uint8Array, id?: string): void {
    this.#queue.push(bytes);
    this.#buffered += bytes.length;
    if (id !== undefined) this.#lastQueuedId = id;
    if (this.#buffered > this.#peak) this.#peak = this.#buffered;
    this.#pump();
  }

  /** Hands what waits to a pending pull, or ends the stream when nothing is left to send. */
  #pump(): void {
    const resolve = this.#pulling;
    if (!resolve || this.#state === "ended") return;
    const c = this.#controller;
    if (this.#queue.length > 0) {
      this.#pulling = undefined;
      c.enqueue(merge(this.#queue, this.#buffered));
      this.#queue = [];
      this.#buffered = 0;
      if (this.#lastQueuedId !== undefined) this.#lastId = this.#lastQueuedId;
      if (this.#state === "ending") {
        c.close();
        this.#end(this.#endAs);
      } else this.#wakeWriters();
      resolve();
    } else if (this.#state === "closing") {
      this.#pulling = undefined;
      c.close();
      this.#end(this.#endAs);
      resolve();
    }
  }

  #wakeWriters(): void {
    const writers = this.#writers;
    this.#writers = [];
    for (const w of writers) w();
  }

  #end(as: SseEnd): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    clearInterval(this.#heartbeat);
    clearTimeout(this.#grace);
    this.#shutdown?.removeEventListener("abort", this.#onShutdown);
    this.#queue = [];
    this.#buffered = 0;
    this.#ctrl.abort();
    this.#wakeWriters();
    const pulling = this.#pulling;
    this.#pulling = undefined;
    pulling?.();
    this.#resolveEnded(as);
  }
}

/** The chunks as one (the chunk itself when there is one). */
function merge(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
