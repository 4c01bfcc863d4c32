/**
 * Where the CLI's URL, token and tenant come from: flags, then the
 * environment, then a profile of the profile file, then (the token of a
 * platform on this machine) the admin token file it wrote, then defaults.
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

/** The platform URL used when nothing else gives one. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** Which layer a value came from. */
export type SettingSource =
  | "flag"
  | "env"
  | "profile"
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
  /** The admin token a local platform wrote, for loopback URLs. */
  localAdminToken?: () => string | undefined;
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

  const url = pick(flags.url, "--url", "JOBICO_URL", values.url) ??
    { value: DEFAULT_URL, source: "default", from: "the default" };
  let token = pick(flags.token, "--token", "JOBICO_TOKEN", values.token);
  if (!token && isLoopback(url.value)) {
    const local = input.localAdminToken?.();
    if (local) {
      token = {
        value: local,
        source: "admin token file",
        from: `${env.JOBICO_DATA || ".jobico"}/admin-token`,
      };
    }
  }
  const tenant = pick(flags.tenant, "--tenant", "JOBICO_TENANT", values.tenant);
  return { url, token, tenant, profile, file };
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
