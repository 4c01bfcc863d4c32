/**
 * A response body for bytes a slow client may take a while to read,
 * streamed in chunks: Deno then counts the response as sent when its last
 * chunk is written, whereas a body given whole counts as sent at once, and
 * a guarded server (guarded_server.ts) would time the connection as idle
 * while a large answer is still on its way, and close it.
 */
export function chunkedBody(
  bytes: Uint8Array,
  chunk = 64 * 1024,
): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (at >= bytes.length) {
        ctrl.close();
        return;
      }
      ctrl.enqueue(bytes.subarray(at, at + chunk));
      at += chunk;
    },
  });
}
