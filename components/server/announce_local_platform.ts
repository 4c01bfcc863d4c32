/**
 * How the CLI finds a platform running on this machine, wherever it runs
 * from: the platform writes its URL beside its admin token
 * (`<data>/url`), and adds itself to a per-user list of the local
 * platforms started lately (`$XDG_STATE_HOME/jobico/platforms.json`, else
 * `~/.local/state/jobico/platforms.json`), newest first. Both files are
 * readable only by their owner. The CLI takes the newest entry whose data
 * directory still names the same URL (cli/local_platform.ts), so the
 * entries of platforms whose directory is gone (a test's, a deleted one)
 * are passed over rather than trusted.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { ensurePrivateDir, type Logger, writePrivateFile } from "@jobico/goico";

/** One local platform as the state file lists it. */
export interface AnnouncedPlatform {
  /** How to reach it from this machine, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Its data directory, absolute. */
  data: string;
  /** ISO 8601. */
  startedAt: string;
  pid: number;
}

/** The state file's content. */
export interface AnnouncedPlatforms {
  platforms: AnnouncedPlatform[];
}

/** How many platforms the state file remembers. */
export const MAX_ANNOUNCED = 10;

/** Where a data directory's platform writes its URL. */
export function platformUrlFile(data: string): string {
  return `${data.replace(/\/+$/, "")}/url`;
}

/**
 * The per-user list of local platforms: `$XDG_STATE_HOME/jobico/platforms.json`,
 * else `$HOME/.local/state/jobico/platforms.json`; undefined without either.
 */
export function localPlatformsFile(
  env: Record<string, string | undefined>,
): string | undefined {
  const state = env.XDG_STATE_HOME ||
    (env.HOME ? `${env.HOME}/.local/state` : undefined);
  return state
    ? `${state.replace(/\/+$/, "")}/jobico/platforms.json`
    : undefined;
}

/** The URL a client on this machine uses: a wildcard address becomes loopback. */
export function localUrl(url: string): string {
  return url.replace(/^http:\/\/0\.0\.0\.0:/, "http://127.0.0.1:")
    .replace(/^http:\/\/\[::\]:/, "http://[::1]:");
}

/** The entries of the state file; none when it is missing or unreadable. */
export function readAnnouncedPlatforms(path: string): AnnouncedPlatform[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return [];
  }
  const list = (parsed as Partial<AnnouncedPlatforms> | null)?.platforms;
  if (!Array.isArray(list)) return [];
  return list.filter((p): p is AnnouncedPlatform =>
    typeof p?.url === "string" && typeof p?.data === "string"
  );
}

export interface AnnounceOptions {
  /** The data directory (a path; not `:memory:` or a URL). */
  data: string;
  /** The platform's URL as it listens. */
  url: string;
  /** The state file (see {@linkcode localPlatformsFile}); undefined: none is written. */
  stateFile?: string;
  logger: Logger;
  /** Default `Date.now`. */
  now?: () => number;
}

/**
 * Writes `<data>/url` and puts the platform first in the state file. A
 * failure is logged, never thrown: the platform serves anyway, and the CLI
 * can still be given `--url`.
 */
export async function announceLocalPlatform(
  options: AnnounceOptions,
): Promise<void> {
  const { logger } = options;
  const url = localUrl(options.url);
  const data = resolve(options.data);
  const urlFile = platformUrlFile(data);
  try {
    await writePrivateFile(urlFile, url + "\n");
  } catch (err) {
    logger.warn("cannot write the platform's URL file", {
      file: urlFile,
      error: String(err),
    });
  }
  const path = options.stateFile;
  if (!path) return;
  try {
    await ensurePrivateDir(dirname(path), { logger });
    const entry: AnnouncedPlatform = {
      url,
      data,
      startedAt: new Date((options.now ?? Date.now)()).toISOString(),
      pid: Deno.pid,
    };
    const others = readAnnouncedPlatforms(path).filter((p) => p.data !== data);
    const content: AnnouncedPlatforms = {
      platforms: [entry, ...others].slice(0, MAX_ANNOUNCED),
    };
    await writePrivateFile(path, JSON.stringify(content, null, 2) + "\n");
  } catch (err) {
    logger.warn("cannot record the platform in the local platforms file", {
      file: path,
      error: String(err),
    });
  }
}
