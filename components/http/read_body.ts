import { TooLargeError, ValidationError } from "@jobico/goico";

/**
 * Reads a request body up to `max` bytes (413 beyond, naming `what`) and
 * decodes it as UTF-8 (400 when it is not).
 */
export async function readBody(
  req: Request,
  max: number,
  what: string,
): Promise<string> {
  return decodeUtf8(await readBytes(req, max, what), what);
}

/**
 * Reads a request body's bytes up to `max` (413 beyond).
 *
 * A body with a Content-Length within `max` is read whole, in one go (the
 * HTTP server frames it by that length: a client cannot send more in it);
 * a body of unknown length (chunked) is read piece by piece and refused
 * as soon as it passes `max`. Reading whole costs far less per request
 * than a stream reader (bench/ingest_breakdown.ts: 17 -> 3 µs).
 */
export async function readBytes(
  req: Request,
  max: number,
  what: string,
): Promise<Uint8Array> {
  const header = req.headers.get("content-length");
  const declared = header === null ? NaN : Number(header);
  if (declared > max) {
    throw new TooLargeError(
      `${what} is ${declared} bytes; the limit is ${max}`,
    );
  }
  if (declared >= 0) {
    // Read whole, in one op. Not `req.body` first: on a request of the
    // HTTP server that getter makes a ReadableStream of the body, and
    // `bytes()` then reads through it (7 µs more a request under load,
    // bench/ingest_compare.ts).
    const bytes = await req.bytes();
    // Only a Request made in-process can carry more than it declares.
    if (bytes.length > max) {
      throw new TooLargeError(
        `${what} is larger than the limit of ${max} bytes`,
      );
    }
    return bytes;
  }
  if (!req.body) return new Uint8Array();
  // Each chunk is copied out at once: the HTTP server hands a chunk as a
  // view of a 64 KiB buffer of its own, so keeping 1-byte chunks kept 64
  // KiB each (100,000 of them: 4.7 GB for a 100 KB body).
  const chunks = maxChunks(max);
  let out = new Uint8Array(Math.min(max, 16 * 1024));
  let size = 0, n = 0;
  for await (const chunk of req.body) {
    if (size + chunk.length > max) {
      throw new TooLargeError(
        `${what} is larger than the limit of ${max} bytes`,
      );
    }
    if (++n > chunks) {
      throw new ValidationError(
        `${what} came in more than ${chunks} chunks; send it in fewer, larger chunks or with a Content-Length`,
        { limit: chunks },
      );
    }
    if (size + chunk.length > out.length) {
      const grown = new Uint8Array(
        Math.min(max, Math.max(out.length * 2, size + chunk.length)),
      );
      grown.set(out.subarray(0, size));
      out = grown;
    }
    out.set(chunk, size);
    size += chunk.length;
  }
  return out.subarray(0, size);
}

/**
 * Chunks a body of at most `max` bytes may come in: 1,024, and one more
 * for every 64 bytes past 64 KiB (16,384 for 1 MiB). Each chunk costs the
 * server an op and a buffer whatever its size.
 */
export function maxChunks(max: number): number {
  return Math.max(1024, Math.ceil(max / 64));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Bodies up to this size that are all ASCII are decoded without the decoder. */
const SMALL_ASCII = 1024;

/** Decodes UTF-8 strictly: a 400 naming `what` when the bytes are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  if (bytes.length <= SMALL_ASCII) {
    // A small ASCII body (a single event, the common case) is its own
    // text: no decoder op (0.1 against 0.3 µs for 30 bytes).
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return String.fromCharCode.apply(null, bytes as unknown as number[]);
    }
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ValidationError(`${what} is not valid UTF-8`);
  }
}
