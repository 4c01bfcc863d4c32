import { type Command, InvalidArgumentError } from "commander";
import type { CliContext, GlobalOptions } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";
import {
  type ConfigFile,
  configPath,
  DEFAULT_PROFILE,
  PROFILE_KEYS,
  type ProfileKey,
  readConfigFile,
  writeConfigFile,
} from "../config_file.ts";
import type { Setting } from "../settings.ts";

const SHAPE = `
The config file is JSON, at $JOBICO_CONFIG, else $XDG_CONFIG_HOME/jobico/config.json,
else ~/.config/jobico/config.json:

  {
    "profile": "local",
    "profiles": {
      "local": { "url": "http://127.0.0.1:8080" },
      "prod": { "url": "https://jobico.example.com", "token": "jbt_...", "tenant": "acme" }
    }
  }

Each value is taken from the first of: a flag (--url, --token, --tenant), the
environment (JOBICO_URL, JOBICO_TOKEN, JOBICO_TENANT), the profile (--profile,
JOBICO_PROFILE, the file's "profile", else the profile named "default"), then
a platform on this machine: the URL and admin token it wrote into its data
directory ($JOBICO_DATA, else ./.jobico, else the last one started, wherever
it was; JOBICO_PORT gives the port).`;

/**
 * `jobico config [show]|set|unset|use|profiles`: the profile file, and where
 * each value the CLI would use comes from.
 */
export function configCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("config")
    .description(
      "Show where the URL, token and tenant come from; manage profiles",
    )
    .addHelpText("after", SHAPE);

  group.command("show", { isDefault: true })
    .description(
      "Show the URL, token and tenant in use and where each comes from (the default)",
    )
    .option("--show-token", "print the token in full")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico config
  jobico --profile prod config show --json`,
    )
    .action(
      (options: { json?: boolean; showToken?: boolean }, command: Command) => {
        const s = ctx.settings(command);
        const token = s.token && {
          ...s.token,
          value: options.showToken ? s.token.value : mask(s.token.value),
        };
        if (options.json) {
          return ctx.out.json({
            url: s.url,
            token: token ?? null,
            tenant: s.tenant ?? null,
            profile: s.profile ?? null,
            file: s.file ? { path: s.file.path, exists: s.file.exists } : null,
          });
        }
        const dim = ctx.out.colors.dim;
        const row = (key: string, setting: Setting | undefined) => [
          key,
          setting?.value ?? dim("(none)"),
          setting ? describe(setting) : dim("-"),
        ];
        ctx.out.table(["KEY", "VALUE", "FROM"], [
          row("url", s.url),
          row("token", token),
          row("tenant", s.tenant),
          [
            "profile",
            s.profile?.name ?? dim("(none)"),
            s.profile?.from ?? dim("-"),
          ],
          [
            "file",
            s.file?.path ?? dim("(no HOME)"),
            s.file ? (s.file.exists ? "found" : dim("absent")) : dim("-"),
          ],
        ]);
      },
    );

  group.command("set")
    .description("Set a value of a profile, creating the file and the profile")
    .argument("<key>", `one of: ${PROFILE_KEYS.join(", ")}`, profileKey)
    .argument("<value>", "the value")
    .addHelpText(
      "after",
      `
The profile is --profile, else JOBICO_PROFILE, else the file's "profile",
else "default". The file is written readable only by you.

Examples:
  jobico config set url http://127.0.0.1:8080
  jobico --profile prod config set token jbt_0123456789abcdef
  jobico --profile prod config set tenant acme`,
    )
    .action((key: ProfileKey, value: string, _o: unknown, command: Command) => {
      if (key === "url") checkUrl(value);
      const { path, config, name } = editable(ctx, command);
      config.profiles[name] = { ...config.profiles[name], [key]: value };
      writeConfigFile(path, config);
      ctx.out.line(`Set ${key} of profile "${name}" in ${path}`);
    });

  group.command("unset")
    .description("Remove a value from a profile")
    .argument("<key>", `one of: ${PROFILE_KEYS.join(", ")}`, profileKey)
    .addHelpText(
      "after",
      `
Example:
  jobico --profile prod config unset tenant`,
    )
    .action((key: ProfileKey, _o: unknown, command: Command) => {
      const { path, config, name } = editable(ctx, command);
      const profile = config.profiles[name];
      if (profile?.[key] === undefined) {
        return ctx.out.line(`Profile "${name}" has no ${key}`);
      }
      delete profile[key];
      writeConfigFile(path, config);
      ctx.out.line(`Removed ${key} from profile "${name}" in ${path}`);
    });

  group.command("use")
    .description("Make a profile the one used when none is named")
    .argument("<profile>", "the profile")
    .addHelpText(
      "after",
      `
Example:
  jobico config use prod`,
    )
    .action((name: string, _o: unknown, command: Command) => {
      const { path, config } = editable(ctx, command);
      if (!config.profiles[name]) {
        const known = Object.keys(config.profiles);
        throw new UsageError(`Profile "${name}" is not in "${path}"`, {
          hint: known.length
            ? `Known profiles: ${known.join(", ")}`
            : `Create it: jobico --profile ${name} config set url <url>`,
        });
      }
      config.profile = name;
      writeConfigFile(path, config);
      ctx.out.line(`Using profile "${name}" (${path})`);
    });

  group.command("profiles")
    .description("List the profiles of the config file")
    .option("--json", "print the result as JSON")
    .action((options: { json?: boolean }, command: Command) => {
      const path = fileOf(ctx);
      const config = readConfigFile(path) ?? { profiles: {} };
      const current = command.optsWithGlobals<GlobalOptions>().profile ||
        ctx.io.env.JOBICO_PROFILE || config.profile ||
        (config.profiles[DEFAULT_PROFILE] ? DEFAULT_PROFILE : undefined);
      const names = Object.keys(config.profiles);
      if (options.json) {
        return ctx.out.json({
          file: path,
          current: current ?? null,
          profiles: Object.fromEntries(
            names.map((n) => {
              const p = config.profiles[n];
              return [n, { ...p, ...(p.token && { token: mask(p.token) }) }];
            }),
          ),
        });
      }
      if (names.length === 0) {
        return ctx.out.line(
          `No profiles in ${path} (add one: jobico config set url <url>)`,
        );
      }
      ctx.out.table(
        ["", "PROFILE", "URL", "TENANT", "TOKEN"],
        names.map((n) => {
          const p = config.profiles[n];
          return [
            n === current ? ctx.out.colors.green("*") : "",
            n,
            p.url ?? "-",
            p.tenant ?? "-",
            p.token ? mask(p.token) : "-",
          ];
        }),
      );
    });
  return group;
}

/** The file, its content and the profile a `set`/`unset` changes. */
function editable(
  ctx: CliContext,
  command: Command,
): { path: string; config: ConfigFile; name: string } {
  const path = fileOf(ctx);
  const config = readConfigFile(path) ?? { profiles: {} };
  const name = command.optsWithGlobals<GlobalOptions>().profile ||
    ctx.io.env.JOBICO_PROFILE || config.profile || DEFAULT_PROFILE;
  return { path, config, name };
}

function fileOf(ctx: CliContext): string {
  const path = configPath(ctx.io.env);
  if (!path) {
    throw new UsageError(
      "There is no place for the config file: HOME is not set",
      {
        hint: "Set JOBICO_CONFIG to the path of the file",
      },
    );
  }
  return path;
}

function profileKey(value: string): ProfileKey {
  if (!(PROFILE_KEYS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      `Expected one of ${PROFILE_KEYS.join(", ")}.`,
    );
  }
  return value as ProfileKey;
}

function checkUrl(value: string): void {
  let ok = false;
  try {
    ok = ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    // not a URL
  }
  if (!ok) {
    throw new UsageError(`Invalid platform URL "${value}"`, {
      hint: "Pass a URL like http://127.0.0.1:8080",
    });
  }
}

/** `jbt_abcd…` : enough to tell tokens apart, not enough to use one. */
export function mask(token: string): string {
  return token.length <= 12 ? "…" : `${token.slice(0, 8)}…`;
}

function describe(setting: Setting): string {
  switch (setting.source) {
    case "flag":
      return `flag ${setting.from}`;
    case "env":
      return `environment ${setting.from}`;
    case "profile":
      return setting.from;
    case "local platform":
      return `local platform ${setting.from}`;
    case "admin token file":
      return `admin token file ${setting.from}`;
    case "default":
      return "default";
  }
}
