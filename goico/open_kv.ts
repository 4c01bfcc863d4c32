import type { Logger } from "./logger.ts";
import { ensurePrivateDir, ensurePrivateFile } from "./private_dir.ts";

/**
 * Options of {@linkcode openKv} and {@linkcode openKvAt}.
 *
 * @example
 * ```ts
 * const kv = await openKv(".jobico", { logger: jsonLogger() });
 * ```
 */
export interface OpenKvOptions {
  /**
   * Told of file modes tightened (see private_dir.ts).
   *
   * @default {undefined} (nobody is told)
   */
  logger?: Logger;
}

/**
 * Opens the Deno KV that everything is stored in.
 *
 * - `:memory:`: an in-memory KV (tests, throwaway runs);
 * - `http://` or `https://` URL: a remote KV (KV Connect);
 * - anything else: a data directory; the KV is `<dir>/kv.sqlite3`. The
 *   directory is created 0700 when missing (tightened when others can read
 *   it) and the KV's files are 0600.
 */
export async function openKv(
  location: string,
  options: OpenKvOptions = {},
): Promise<Deno.Kv> {
  if (location === ":memory:") return await Deno.openKv(":memory:");
  if (/^https?:\/\//.test(location)) return await Deno.openKv(location);
  const dir = location.replace(/\/+$/, "");
  await ensurePrivateDir(dir, options);
  await ensurePrivateFile(`${dir}/kv.sqlite3`, options);
  return await Deno.openKv(`${dir}/kv.sqlite3`);
}

/**
 * Opens a KV named directly: `:memory:`, a KV Connect URL (`http(s)://`,
 * authenticated by DENO_KV_ACCESS_TOKEN), or the path of a SQLite file
 * (its directory is created 0700 when missing; an existing directory is
 * left as it is, the file made 0600).
 */
export async function openKvAt(
  location: string,
  options: OpenKvOptions = {},
): Promise<Deno.Kv> {
  if (location === ":memory:" || /^https?:\/\//.test(location)) {
    return await Deno.openKv(location);
  }
  const dir = location.replace(/\/[^/]*$/, "");
  if (dir && dir !== location) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  }
  await ensurePrivateFile(location, options);
  return await Deno.openKv(location);
}
