/**
 * The size limit of the listener, as Hono's `bodyLimit`: the body's bytes,
 * read once, at most `maxBytes` of them (413 beyond, from its
 * Content-Length before anything is read, or as soon as a chunked body
 * passes it). A signed request's body is read earlier, by the credentials
 * step, to check its signature; this step then keeps what was read.
 */
import type { Context } from "hono";
import type { Step } from "../http/pipeline.ts";
import { readBytes } from "../http/read_body.ts";
import type { ListenerEnv } from "./listener_env.ts";

/** What the limit's errors call the body. */
export const EVENT_BODY = "Event body";

/** Largest event body by default, in bytes: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The body's bytes, read within `maxBytes` on the first call and kept in
 * `bodyBytes` for the steps after.
 *
 * @throws {TooLargeError} the body is larger than `maxBytes` (413)
 */
export async function readEventBytes(
  c: Context<ListenerEnv>,
  maxBytes: number,
): Promise<Uint8Array> {
  let bytes = c.get("bodyBytes");
  if (bytes === undefined) {
    bytes = await readBytes(c.req.raw, maxBytes, EVENT_BODY);
    c.set("bodyBytes", bytes);
  }
  return bytes;
}

/** Sets `bodyBytes` (see {@linkcode readEventBytes}). */
export function eventBytes(options: { maxBytes: number }): Step<ListenerEnv> {
  const { maxBytes } = options;
  return async function eventBytes(c, next) {
    await readEventBytes(c, maxBytes);
    return next();
  };
}
