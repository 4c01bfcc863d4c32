/**
 * A Server-Sent Events response fed by a producer function, on a bounded
 * `SseChannel`: a message sent while the client is too far behind drops
 * the stream (see sse_channel.ts).
 */
import { SseChannel, type SseChannelOptions } from "./sse_channel.ts";
import type { SseMessage } from "./sse_message.ts";

export { formatSse, type SseMessage } from "./sse_message.ts";

/**
 * Options of {@linkcode sseResponse}: a channel's, with the shutdown signal
 * required.
 *
 * @example
 * ```ts
 * return sseResponse({ signal: shutdown, heartbeatMs: 30_000 }, async (send) => {
 *   send({ event: "hello", data: "{}" });
 * });
 * ```
 */
export interface SseResponseOptions extends SseChannelOptions {
  /** Aborted when the server shuts down. */
  signal: AbortSignal;
}

/**
 * A `text/event-stream` response fed by `produce`, which sends messages
 * until its signal aborts (the client left, the stream was dropped, or
 * `options.signal` aborted). `send` returns false once the stream takes no
 * more messages.
 */
export function sseResponse(
  options: SseResponseOptions,
  produce: (
    send: (msg: SseMessage) => boolean,
    signal: AbortSignal,
  ) => Promise<void>,
): Response {
  const channel = new SseChannel(options);
  produce((msg) => channel.send(msg), channel.signal)
    .catch(() => {})
    .finally(() => channel.close());
  return channel.response();
}
