/**
 * Execution streams over plain TCP, for what `fetch` hides: a client that
 * sends its request and then reads nothing (so the server's writes back up
 * in the sockets), and one that vanishes with its process.
 */
import { concat, dechunk, indexOf } from "./_raw_http.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Opens `GET path` on `base` and returns the connection without reading a
 * byte of the answer.
 */
export async function openUnread(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<Deno.TcpConn> {
  const url = new URL(base);
  const conn = await Deno.connect({
    hostname: url.hostname,
    port: Number(url.port),
  });
  const head = [
    `GET ${path} HTTP/1.1`,
    `host: ${url.host}`,
    "accept: text/event-stream",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join("\r\n");
  await conn.write(enc.encode(`${head}\r\n\r\n`));
  return conn;
}

/**
 * Reads what the connection holds until the server closes it (fails after
 * `ms`) and returns the body, de-chunked, as far as it came.
 */
export async function readToClose(
  conn: Deno.Conn,
  ms = 30_000,
): Promise<{ status: number; body: string }> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(256 * 1024);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, ms);
  let closedByServer = false;
  try {
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      parts.push(buf.slice(0, n));
    }
    closedByServer = true;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const bytes = concat(parts);
  const end = indexOf(bytes, "\r\n\r\n");
  if (end < 0) throw new Error("No response head");
  const status = Number(
    /^HTTP\/1\.1 (\d{3})/.exec(dec.decode(bytes.subarray(0, end)))?.[1],
  );
  if (!closedByServer) {
    throw new Error(`The server did not close within ${ms} ms`);
  }
  return { status, body: dechunk(bytes.subarray(end + 4)) };
}

/**
 * A separate process that opens `count` streams and says so on stdout,
 * then waits; `kill()` SIGKILLs it, so its sockets are closed by the
 * kernel, not by a client.
 */
export async function streamsInAnotherProcess(
  url: string,
  token: string,
  count: number,
): Promise<{ kill(): Promise<void> }> {
  const code = `
    const opened = [];
    for (let i = 0; i < ${count}; i++) {
      const res = await fetch(${JSON.stringify(url)}, {
        headers: { authorization: ${JSON.stringify(`Bearer ${token}`)} },
      });
      if (res.status !== 200) throw new Error("status " + res.status);
      const reader = res.body.getReader();
      await reader.read();
      opened.push(reader);
    }
    console.log("open " + opened.length);
    await new Promise(() => setInterval(() => {}, 1000));
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`The client process ended: ${out}`);
      out += value;
    }
  } finally {
    clearTimeout(timer);
  }
  if (out.trim() !== `open ${count}`) throw new Error(`Client said ${out}`);
  return {
    kill: async () => {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel().catch(() => {});
    },
  };
}
