/**
 * How a guarded server (guarded_server.ts) refuses a connection when every
 * one of its connections has a request in progress: a 503 problem with
 * Retry-After, then the connection is closed.
 */

/** Connections refused gently at once at most; beyond, they are closed at once. */
const MAX_LINGERING = 64;

export class ConnectionRefuser {
  readonly #busy: Uint8Array;
  #lingering = 0;

  constructor(maxConnections: number) {
    // An answer of the HTTP layer itself, not of a domain error.
    const body = JSON.stringify({
      type: "about:blank",
      title: "Service unavailable",
      status: 503,
      detail:
        `Every one of the server's ${maxConnections} connections has a request in progress; retry later`,
    });
    this.#busy = new TextEncoder().encode(
      "HTTP/1.1 503 Service Unavailable\r\n" +
        "content-type: application/problem+json\r\n" +
        "retry-after: 1\r\n" +
        "connection: close\r\n" +
        `content-length: ${new TextEncoder().encode(body).length}\r\n\r\n` +
        body,
    );
  }

  /**
   * Answers 503 and closes. An HTTP client takes an answer only after its
   * request, and closing with the request unread resets the connection
   * (the client can lose the answer): so this first reads the request's
   * headers (up to a second), then answers, stops writing and reads what
   * more comes for up to a second. At most 64 connections are treated so
   * at once; beyond, the answer is written and the connection closed.
   */
  async refuse(conn: Deno.TcpConn): Promise<void> {
    const gentle = this.#lingering < MAX_LINGERING;
    if (gentle) this.#lingering++;
    try {
      if (gentle) await readUntil(conn, 1000, "\r\n\r\n");
      await conn.write(this.#busy);
      if (gentle) {
        await conn.closeWrite();
        await readUntil(conn, 1000, "");
      }
    } catch {
      /* the client went away */
    } finally {
      if (gentle) this.#lingering--;
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  }
}

/**
 * Reads from `conn` until `end` arrives ("" reads to the end of the
 * stream), 16 KiB were read or `ms` pass.
 */
async function readUntil(
  conn: Deno.Conn,
  ms: number,
  end: string,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((
    r,
  ) => (timer = setTimeout(() => r(null), ms)));
  const buf = new Uint8Array(16 * 1024);
  let seen = "";
  try {
    for (let size = 0; size < buf.length;) {
      const n = await Promise.race([conn.read(buf.subarray(size)), late]);
      if (n === null) return;
      if (end) {
        seen = (seen + String.fromCharCode(...buf.subarray(size, size + n)))
          .slice(-end.length - n);
        if (seen.includes(end)) return;
        size += n;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
