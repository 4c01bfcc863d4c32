/**
 * The platforms on this machine the CLI may talk to without being told:
 * the data directory `JOBICO_DATA` names; else `.jobico` in the working
 * directory, then the local platforms started lately, newest first (the
 * list each platform adds itself to, see
 * components/server/announce_local_platform.ts). settings.ts picks among them.
 *
 * @module
 */
import { resolve } from "node:path";
import { adminTokenFile } from "../components/server/admin_token.ts";
import {
  localPlatformsFile,
  platformUrlFile,
  readAnnouncedPlatforms,
} from "../components/server/announce_local_platform.ts";

/** A platform of this machine, as its data directory tells it. */
export interface LocalPlatform {
  /** Its data directory. */
  data: string;
  /** Where it listens, as it wrote in `<data>/url` (absent: it never said). */
  url?: string;
  /** The admin token in `<data>/admin-token`, when readable. */
  token?: string;
  /**
   * How it was found: `JOBICO_DATA`, `./.jobico`, or the local platforms
   * file. Only the first two may lend their token to a URL other than the
   * one they wrote (another process of the same platform).
   */
  found: "JOBICO_DATA" | "./.jobico" | "local platforms file";
}

/** The default data directory of `deno task dev`. */
const DEFAULT_DATA = ".jobico";

/**
 * The candidates, best first. `env` is the CLI's environment (JOBICO_DATA,
 * XDG_STATE_HOME, HOME); `cwd` the working directory.
 */
export function findLocalPlatforms(
  env: Record<string, string | undefined>,
  cwd: string = Deno.cwd(),
): LocalPlatform[] {
  const data = env.JOBICO_DATA?.trim();
  if (data) {
    // Named: that one only (or none, when it is not a directory).
    if (/^https?:|^:memory:$/.test(data)) return [];
    const named = read(resolve(cwd, data), "JOBICO_DATA");
    return named ? [named] : [];
  }
  const out: LocalPlatform[] = [];
  const here = read(resolve(cwd, DEFAULT_DATA), "./.jobico");
  if (here && here.token) out.push(here);
  const list = localPlatformsFile(env);
  for (const p of list ? readAnnouncedPlatforms(list) : []) {
    if (out.some((o) => o.data === p.data)) continue;
    const found = read(p.data, "local platforms file");
    // Still that platform's directory: it names the same URL, and its token.
    if (found?.token && found.url === p.url) out.push(found);
  }
  return out;
}

function read(
  data: string,
  found: LocalPlatform["found"],
): LocalPlatform | undefined {
  const token = readTrimmed(adminTokenFile(data));
  const url = readTrimmed(platformUrlFile(data));
  if (token === undefined && url === undefined) return undefined;
  return {
    data,
    found,
    ...(url !== undefined && { url }),
    ...(token !== undefined && { token }),
  };
}

function readTrimmed(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim() || undefined;
  } catch {
    return undefined;
  }
}
