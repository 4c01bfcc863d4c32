/**
 * HTTP/1.1 over a plain TCP connection, byte for byte: for what `fetch`
 * will not send (`..` segments it would resolve, raw NUL or non-ASCII bytes
 * in the path, a Content-Length that lies).
 */

export interface RawResponse {
  status: number;
  headers: Headers;
  /** The body, de-chunked, as text (lossy for binary). */
  text: string;
}

export interface RawRequestOptions {
  /** Default 3000 ms; then the connection is closed and the call throws. */
  timeoutMs?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Sends `head` (request line and headers, CRLF separated, without the blank
 * line) then `body`, to `base` (`http://host:port`), and reads one response.
 * `Connection: close` is added.
 */
export async function rawRequest(
  base: string,
  head: string,
  body: Uint8Array | string = new Uint8Array(),
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const url = new URL(base);
  const conn = await Deno.connect({
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port),
  });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed already */ }
  }, options.timeoutMs ?? 3000);
  try {
    const bytes = typeof body === "string" ? enc.encode(body) : body;
    const request = concat([
      enc.encode(`${head}\r\nconnection: close\r\n\r\n`),
      bytes,
    ]);
    // The server may answer (and close) before it has read everything.
    await writeAll(conn, request).catch(() => {});
    return await readResponse(conn);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let o = 0;
  while (o < bytes.length) o += await conn.write(bytes.subarray(o));
}

async function readResponse(conn: Deno.Conn): Promise<RawResponse> {
  let buf: Uint8Array = new Uint8Array();
  const chunk = new Uint8Array(64 * 1024);
  const more = async (): Promise<boolean> => {
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return false;
    buf = concat([buf, chunk.subarray(0, n)]);
    return true;
  };
  let end = -1;
  while ((end = indexOf(buf, "\r\n\r\n")) < 0) {
    if (!(await more())) {
      throw new Error("The connection closed before a response");
    }
  }
  const lines = dec.decode(buf.subarray(0, end)).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
  if (!status) throw new Error(`Not an HTTP response: ${lines[0]}`);
  const headers = new Headers();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i > 0) headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
  }
  let rest = buf.subarray(end + 4);
  const length = headers.get("content-length");
  if (length !== null) {
    while (rest.length < Number(length) && await more()) {
      rest = buf.subarray(end + 4);
    }
    return {
      status,
      headers,
      text: dec.decode(rest.subarray(0, Number(length))),
    };
  }
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    while (indexOf(rest, "0\r\n\r\n") < 0 && await more()) {
      rest = buf.subarray(end + 4);
    }
    return { status, headers, text: dechunk(rest) };
  }
  while (await more()) rest = buf.subarray(end + 4);
  return { status, headers, text: dec.decode(rest) };
}

/**
 * The data of a chunked body, as far as it came (a cut last chunk is kept
 * in part).
 */
export function dechunk(bytes: Uint8Array): string {
  const parts: Uint8Array[] = [];
  let o = 0;
  while (o < bytes.length) {
    const eol = indexOf(bytes, "\r\n", o);
    if (eol < 0) break;
    const size = parseInt(dec.decode(bytes.subarray(o, eol)), 16);
    if (!size) break;
    parts.push(bytes.subarray(eol + 2, eol + 2 + size));
    o = eol + 2 + size + 2;
  }
  return dec.decode(concat(parts));
}

/** Where `text` first appears in `bytes` from `from`, or -1. */
export function indexOf(bytes: Uint8Array, text: string, from = 0): number {
  const needle = enc.encode(text);
  outer: for (let i = from; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (bytes[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** The bytes of `parts`, one after the other. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
