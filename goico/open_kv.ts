/**
 * Opens the Deno KV that everything is stored in.
 *
 * - `:memory:`: an in-memory KV (tests, throwaway runs);
 * - `http://` or `https://` URL: a remote KV (KV Connect);
 * - anything else: a data directory; the KV is `<dir>/kv.sqlite3` and the
 *   directory is created when missing.
 */
export async function openKv(location: string): Promise<Deno.Kv> {
  if (location === ":memory:") return await Deno.openKv(":memory:");
  if (/^https?:\/\//.test(location)) return await Deno.openKv(location);
  await Deno.mkdir(location, { recursive: true });
  return await Deno.openKv(`${location.replace(/\/+$/, "")}/kv.sqlite3`);
}

/**
 * Opens a KV named directly: `:memory:`, a KV Connect URL (`http(s)://`,
 * authenticated by DENO_KV_ACCESS_TOKEN), or the path of a SQLite file
 * (its directory is created when missing).
 */
export async function openKvAt(location: string): Promise<Deno.Kv> {
  if (location === ":memory:" || /^https?:\/\//.test(location)) {
    return await Deno.openKv(location);
  }
  const dir = location.replace(/\/[^/]*$/, "");
  if (dir && dir !== location) await Deno.mkdir(dir, { recursive: true });
  return await Deno.openKv(location);
}
