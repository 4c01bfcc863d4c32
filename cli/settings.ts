/**
 * Where the CLI's URL, token and tenant come from: flags, then the
 * environment, then a profile of the profile file, then a platform on this
 * machine (the URL and admin token it wrote, see local_platform.ts), then
 * defaults.
 *
 * @module
 */
import { UsageError } from "./cli_error.ts";
import {
  type ConfigFile,
  configPath,
  DEFAULT_PROFILE,
  type Profile,
  readConfigFile,
} from "./config_file.ts";
import type { LocalPlatform } from "./local_platform.ts";

/** The platform URL used when nothing else gives one. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** Which layer a value came from. */
export type SettingSource =
  | "flag"
  | "env"
  | "profile"
  | "local platform"
  | "admin token file"
  | "default";

/** One resolved value and where it came from. */
export interface Setting {
  value: string;
  source: SettingSource;
  /** The flag, variable, profile or file, e.g. `JOBICO_URL`, `profile "prod"`. */
  from: string;
}

/** Everything {@linkcode resolveSettings} found. */
export interface Settings {
  url: Setting;
  token?: Setting;
  tenant?: Setting;
  /** The profile in use and what chose it; undefined when none applies. */
  profile?: { name: string; from: string };
  /** The profile file, when a path is known; `exists` false when absent. */
  file?: { path: string; exists: boolean; config?: ConfigFile };
}

/** What settings are resolved from. */
export interface SettingsInput {
  /** `--url`, `--token`, `--profile`, and `--tenant` where a command has it. */
  flags: { url?: string; token?: string; profile?: string; tenant?: string };
  env: Record<string, string | undefined>;
  /**
   * The platforms of this machine, best first (see local_platform.ts): the
   * URL when none is given, and the admin token for a loopback URL.
   */
  localPlatforms?: () => LocalPlatform[];
}

const LOOPBACK = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/;

/** Whether a URL names this machine (the admin token file applies to it). */
export function isLoopback(url: string): boolean {
  return LOOPBACK.test(url);
}

/**
 * Resolves URL, token and tenant. A profile that is asked for by name and
 * missing, or an invalid profile file, is a usage mistake (exit 2).
 */
export function resolveSettings(input: SettingsInput): Settings {
  const { flags, env } = input;
  const path = configPath(env);
  const config = path ? readConfigFile(path) : undefined;
  const file = path
    ? { path, exists: config !== undefined, config }
    : undefined;

  let profile: Settings["profile"];
  let values: Profile = {};
  const asked: [string | undefined, string][] = [
    [flags.profile, "--profile"],
    [env.JOBICO_PROFILE, "JOBICO_PROFILE"],
    [config?.profile, `"profile" of ${path}`],
  ];
  const chosen = asked.find(([name]) => name);
  if (chosen) {
    const [name, from] = chosen as [string, string];
    const found = config?.profiles[name];
    if (!found) throw missingProfile(name, from, path, config);
    profile = { name, from };
    values = found;
  } else if (config?.profiles[DEFAULT_PROFILE]) {
    profile = { name: DEFAULT_PROFILE, from: "the default profile" };
    values = config.profiles[DEFAULT_PROFILE];
  }
  const inProfile = profile ? `profile "${profile.name}"` : "";

  const pick = (
    flag: string | undefined,
    flagName: string,
    envName: string,
    fromProfile: string | undefined,
  ): Setting | undefined => {
    if (flag) return { value: flag, source: "flag", from: flagName };
    const e = env[envName];
    if (e) return { value: e, source: "env", from: envName };
    if (fromProfile) {
      return { value: fromProfile, source: "profile", from: inProfile };
    }
    return undefined;
  };

  const given = pick(flags.url, "--url", "JOBICO_URL", values.url);
  // Read only when needed: a URL and token given need no local files.
  let local: LocalPlatform[] | undefined;
  const locals = () => local ??= input.localPlatforms?.() ?? [];
  const url = given ?? portUrl(env) ?? announcedUrl(locals()) ??
    { value: DEFAULT_URL, source: "default", from: "the default" };
  let token = pick(flags.token, "--token", "JOBICO_TOKEN", values.token);
  if (!token && isLoopback(url.value)) {
    const owner = tokenOwner(locals(), url.value);
    if (owner?.token) {
      token = {
        value: owner.token,
        source: "admin token file",
        from: `${owner.data}/admin-token`,
      };
    }
  }
  const tenant = pick(flags.tenant, "--tenant", "JOBICO_TENANT", values.tenant);
  return { url, token, tenant, profile, file };
}

/** `JOBICO_PORT` (and `JOBICO_HOST`): the URL of the platform they start. */
function portUrl(env: Record<string, string | undefined>): Setting | undefined {
  const port = env.JOBICO_PORT?.trim();
  if (!port || !/^\d+$/.test(port) || Number(port) === 0) return undefined;
  const host = env.JOBICO_HOST?.trim();
  const name = !host || host === "0.0.0.0"
    ? "127.0.0.1"
    : host === "::"
    ? "[::1]"
    : host.includes(":")
    ? `[${host}]`
    : host;
  return {
    value: `http://${name}:${Number(port)}`,
    source: "local platform",
    from: host ? "JOBICO_HOST and JOBICO_PORT" : "JOBICO_PORT",
  };
}

/**
 * The URL the best local platform wrote, when one did and it names this
 * machine. A `.jobico/url` naming another host is passed over: it may have
 * come with a checkout of someone else's repository, and the token given by
 * JOBICO_TOKEN or the profile would go there.
 */
function announcedUrl(locals: LocalPlatform[]): Setting | undefined {
  const first = locals.find((p) => p.url && isLoopback(p.url));
  return first?.url
    ? { value: first.url, source: "local platform", from: `${first.data}/url` }
    : undefined;
}

/**
 * Whose admin token goes to a loopback `url`: the platform that wrote that
 * URL; else the one `JOBICO_DATA` or `./.jobico` names (another process of
 * it may listen elsewhere). Never a listed platform of another URL.
 */
function tokenOwner(
  locals: LocalPlatform[],
  url: string,
): LocalPlatform | undefined {
  const want = url.replace(/\/+$/, "");
  return locals.find((p) => p.token && p.url === want) ??
    locals.find((p) => p.token && p.found !== "local platforms file");
}

function missingProfile(
  name: string,
  from: string,
  path: string | undefined,
  config: ConfigFile | undefined,
): UsageError {
  const names = Object.keys(config?.profiles ?? {});
  const where = path ? `"${path}"` : "the config file (no HOME)";
  return new UsageError(
    `Profile "${name}" (from ${from}) is not in ${where}`,
    {
      hint: names.length
        ? `Known profiles: ${names.join(", ")}`
        : `Create it: jobico --profile ${name} config set url ${DEFAULT_URL}`,
    },
  );
}
