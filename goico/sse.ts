/** Server-Sent Events: one message's wire format and a stream of messages. */

export interface SseMessage {
  event?: string;
  id?: string;
  data: string;
}

const encoder = new TextEncoder();

/** Encodes one message (multi-line data becomes several `data:` lines). */
export function formatSse(msg: SseMessage): string {
  let out = "";
  if (msg.event) out += `event: ${msg.event}\n`;
  if (msg.id) out += `id: ${msg.id}\n`;
  for (const line of msg.data.split("\n")) out += `data: ${line}\n`;
  return out + "\n";
}

export interface SseResponseOptions {
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
  /** A comment line is sent this often to keep proxies from closing the stream. Default 15 s. */
  heartbeatMs?: number;
}

/**
 * A `text/event-stream` response fed by `produce`, which sends messages
 * until its signal aborts (the client left, or `options.signal` aborted).
 */
export function sseResponse(
  options: SseResponseOptions,
  produce: (
    send: (msg: SseMessage) => void,
    signal: AbortSignal,
  ) => Promise<void>,
): Response {
  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  options.signal.addEventListener("abort", stop, { once: true });
  // An already aborted signal fires no event.
  if (options.signal.aborted) stop();
  let timer: ReturnType<typeof setInterval> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (msg: SseMessage) => {
        if (!ctrl.signal.aborted) {
          controller.enqueue(encoder.encode(formatSse(msg)));
        }
      };
      controller.enqueue(encoder.encode(": connected\n\n"));
      timer = setInterval(() => {
        if (!ctrl.signal.aborted) {
          controller.enqueue(encoder.encode(": keep-alive\n\n"));
        }
      }, options.heartbeatMs ?? 15_000);
      produce(send, ctrl.signal).catch(() => {}).finally(() => {
        clearInterval(timer);
        options.signal.removeEventListener("abort", stop);
        try {
          controller.close();
        } catch {
          // Already closed by a cancel.
        }
      });
    },
    cancel() {
      clearInterval(timer);
      stop();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
