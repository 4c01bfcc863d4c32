/** One Server-Sent Events message. */
export interface SseMessage {
  /** The `event:` field; `message` when the event had none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream so far, if any. */
  id?: string;
  /** The `retry:` field of this message, in milliseconds. */
  retry?: number;
}

/** Options of {@linkcode readSse}. */
export interface ReadSseOptions {
  /** Ends the iteration (and cancels the stream) when aborted. */
  signal?: AbortSignal;
}

/**
 * Reads Server-Sent Events from a byte stream, following the WHATWG event
 * stream rules: lines end with CRLF, LF or CR (also when split across chunks),
 * `:` starts a comment, a blank line dispatches, and an unfinished event at
 * the end of the stream is dropped. Leaving the loop or aborting `signal`
 * cancels the stream.
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  options: ReadSseOptions = {},
): AsyncGenerator<SseMessage> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const { signal } = options;
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let buffer = "";
  let first = true;
  let done = false;
  let event = "";
  let data: string[] = [];
  let lastId: string | undefined;
  let retry: number | undefined;
  try {
    while (!done) {
      const chunk = await reader.read();
      if (chunk.done || signal?.aborted) done = true;
      else buffer += chunk.value;
      if (first && buffer.length > 0) {
        if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
        first = false;
      }
      let start = 0;
      while (start < buffer.length) {
        const cr = buffer.indexOf("\r", start);
        const lf = buffer.indexOf("\n", start);
        const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
        if (end === -1) break;
        let next = end + 1;
        if (buffer[end] === "\r") {
          // A CR at the end of the chunk may be the first half of a CRLF.
          if (end + 1 === buffer.length && !done) break;
          if (buffer[end + 1] === "\n") next++;
        }
        const line = buffer.slice(start, end);
        start = next;
        if (line === "") {
          if (data.length > 0) {
            const message: SseMessage = {
              event: event || "message",
              data: data.join("\n"),
            };
            if (lastId !== undefined) message.id = lastId;
            if (retry !== undefined) message.retry = retry;
            yield message;
          }
          event = "";
          data = [];
          retry = undefined;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        switch (field) {
          case "event":
            event = value;
            break;
          case "data":
            data.push(value);
            break;
          case "id":
            if (!value.includes("\0")) lastId = value;
            break;
          case "retry":
            if (/^\d+$/.test(value)) retry = Number(value);
            break;
        }
      }
      buffer = buffer.slice(start);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
