/**
 * The CLI's profile file: named sets of URL, token and tenant, so that
 * `jobico --profile prod files list` needs no flags. JSON, at
 * `$JOBICO_CONFIG`, else `$XDG_CONFIG_HOME/jobico/config.json`, else
 * `~/.config/jobico/config.json`:
 *
 * ```json
 * {
 *   "profile": "local",
 *   "profiles": {
 *     "local": { "url": "http://127.0.0.1:8080" },
 *     "prod": { "url": "https://jobico.example.com", "token": "jbt_...", "tenant": "acme" }
 *   }
 * }
 * ```
 *
 * @module
 */
import { UsageError } from "./cli_error.ts";

/** What one profile may set. */
export interface Profile {
  url?: string;
  token?: string;
  tenant?: string;
}

/** The keys of a profile, in the order `jobico config` shows them. */
export const PROFILE_KEYS = ["url", "token", "tenant"] as const;
export type ProfileKey = typeof PROFILE_KEYS[number];

/** The whole file. */
export interface ConfigFile {
  /** The profile used when neither `--profile` nor `JOBICO_PROFILE` names one. */
  profile?: string;
  profiles: Record<string, Profile>;
}

/** The profile used when nothing names one and the file has no `profile`. */
export const DEFAULT_PROFILE = "default";

/**
 * Where the profile file is: `JOBICO_CONFIG`, else under `XDG_CONFIG_HOME`,
 * `HOME` or (Windows) `APPDATA`; undefined when none of them is set.
 */
export function configPath(
  env: Record<string, string | undefined>,
): string | undefined {
  if (env.JOBICO_CONFIG) return env.JOBICO_CONFIG;
  if (env.XDG_CONFIG_HOME) return `${env.XDG_CONFIG_HOME}/jobico/config.json`;
  if (env.HOME) return `${env.HOME}/.config/jobico/config.json`;
  if (env.APPDATA) return `${env.APPDATA}\\jobico\\config.json`;
  return undefined;
}

/**
 * Reads and checks the profile file; undefined when it does not exist. A
 * file that is not valid is a usage mistake (exit 2) naming the file.
 */
export function readConfigFile(path: string): ConfigFile | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(`Cannot read the config file "${path}"`, {
        hint: "Run with --allow-read (deno task jobico does)",
      });
    }
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(path, `not valid JSON (${(error as Error).message})`);
  }
  return checkConfig(path, value);
}

/** Writes the profile file, readable only by its owner (it holds tokens). */
export function writeConfigFile(path: string, config: ConfigFile): void {
  const dir = path.replace(/[\\/][^\\/]*$/, "");
  if (dir && dir !== path) Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(path, JSON.stringify(config, null, 2) + "\n", {
    mode: 0o600,
  });
  // `mode` applies only when the file is created.
  if (Deno.build.os !== "windows") Deno.chmodSync(path, 0o600);
}

function checkConfig(path: string, value: unknown): ConfigFile {
  if (!isObject(value)) throw invalid(path, "not a JSON object");
  const { profile, profiles = {} } = value;
  if (profile !== undefined && typeof profile !== "string") {
    throw invalid(path, '"profile" is not a string');
  }
  if (!isObject(profiles)) throw invalid(path, '"profiles" is not an object');
  for (const [name, p] of Object.entries(profiles)) {
    if (!isObject(p)) throw invalid(path, `profile "${name}" is not an object`);
    for (const [key, v] of Object.entries(p)) {
      if (!(PROFILE_KEYS as readonly string[]).includes(key)) {
        throw invalid(
          path,
          `profile "${name}" has an unknown key "${key}" (known: ${
            PROFILE_KEYS.join(", ")
          })`,
        );
      }
      if (typeof v !== "string") {
        throw invalid(path, `"${key}" of profile "${name}" is not a string`);
      }
    }
  }
  return { profile, profiles: profiles as Record<string, Profile> };
}

function invalid(path: string, why: string): UsageError {
  return new UsageError(`The config file "${path}" is invalid: ${why}`, {
    hint: 'Fix it by hand, or see "jobico config --help" for its shape',
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
