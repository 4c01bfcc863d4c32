/**
 * A data directory only its owner can read: the directory 0700 and every
 * file in it 0600. It holds the store (tenants' webhook secrets, tokens'
 * hashes, their data), the admin token and the secret key.
 *
 * Deno has no umask setter, so modes are set explicitly: the directory is
 * created 0700 (an existing one that others may read is tightened, with a
 * warning), and files are created 0600 before anyone else creates them.
 * SQLite gives its `-wal` and `-shm` files the mode of the database file,
 * so creating `kv.sqlite3` 0600 before Deno KV opens it covers those too.
 */
import type { Logger } from "./logger.ts";

/**
 * Options of {@linkcode ensurePrivateDir} and the private file helpers.
 *
 * @example
 * ```ts
 * await ensurePrivateDir(".jobico", { logger: jsonLogger() });
 * ```
 */
export interface PrivateDirOptions {
  /**
   * Told of every mode it had to tighten.
   *
   * @default {undefined} (nobody is told)
   */
  logger?: Logger;
}

/** Creates `dir` 0700, or tightens it and its files when others could read them. */
export async function ensurePrivateDir(
  dir: string,
  options: PrivateDirOptions = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await tighten(dir, 0o700, options.logger);
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    try {
      await tighten(`${dir}/${entry.name}`, 0o600, options.logger);
    } catch (err) {
      // Gone since the listing: another process on the same directory
      // (SQLite's -journal of a store another isolate writes) removed it.
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/** Creates an empty file 0600 unless it exists (then tightens it). */
export async function ensurePrivateFile(
  path: string,
  options: PrivateDirOptions = {},
): Promise<void> {
  try {
    const f = await Deno.open(path, {
      createNew: true,
      write: true,
      mode: 0o600,
    });
    f.close();
    // The umask may have taken bits away, never added any: set it exactly.
    await Deno.chmod(path, 0o600);
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    await tighten(path, 0o600, options.logger);
  }
}

/**
 * Replaces a file's content whole, 0600: a temporary file beside it is
 * written and renamed over it, so a reader sees the old content or the new,
 * never part of either.
 */
export async function writePrivateFile(
  path: string,
  text: string,
): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { mode: 0o600, createNew: true });
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * A value kept in a private file and made once. Of several processes
 * starting on one directory at once, the first creates the file (0600,
 * `createNew`) with `make()`'s text; the others read it, waiting up to a
 * second for the writer to finish. `parse` turns the file's text into the
 * value, or `undefined` when it holds none; so does this function when the
 * file still holds none after that second.
 */
export async function keepPrivateFile<T>(
  path: string,
  make: () => string,
  parse: (text: string) => T | undefined,
): Promise<{ value: T; created: boolean } | undefined> {
  try {
    const f = await Deno.open(path, {
      createNew: true,
      write: true,
      mode: 0o600,
    });
    try {
      const text = make();
      const value = parse(text);
      if (value === undefined) throw new Error(`made an invalid ${path}`);
      await f.write(new TextEncoder().encode(text + "\n"));
      return { value, created: true };
    } finally {
      f.close();
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
  for (let i = 0; i < 50; i++) {
    const value = parse(await Deno.readTextFile(path));
    if (value !== undefined) return { value, created: false };
    // Another process is still writing it.
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

async function tighten(
  path: string,
  mode: number,
  logger: Logger | undefined,
): Promise<void> {
  const info = await Deno.stat(path);
  if (info.mode === null) return; // not a POSIX file system
  const current = info.mode & 0o777;
  if ((current & ~mode) === 0) return;
  await Deno.chmod(path, current & mode);
  logger?.warn("tightened the mode of a data file: others could read it", {
    path,
    was: current.toString(8).padStart(4, "0"),
    now: (current & mode).toString(8).padStart(4, "0"),
  });
}
