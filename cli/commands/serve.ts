import type { Command } from "commander";
import { localPlatformsFile } from "../../components/server/announce_local_platform.ts";
import { runServer } from "../../components/server/run_server.ts";
import { SettingError } from "../../components/server/setting_error.ts";
import {
  serverConfig,
  type SettingName,
  SETTINGS,
} from "../../components/server/server_config.ts";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";

/** The settings that name a place on disk (unless a URL or `:memory:`). */
const PATHS: SettingName[] = ["JOBICO_DATA", "JOBICO_KV"];

const camel = (flag: string) =>
  flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * `jobico serve`: runs the platform, or some of its components, in this
 * process until SIGINT or SIGTERM. Flags override JOBICO_* variables.
 */
export function serveCommand(parent: Command, ctx: CliContext): Command {
  const cmd = parent.command("serve")
    .description(
      "Run the platform (all components, or those named by --components) " +
        "until Ctrl-C; several processes can share one data directory",
    );
  for (const [name, [flag, help]] of Object.entries(SETTINGS)) {
    cmd.option(`${flag} <value>`, `${help} (env: ${name})`);
  }
  cmd.addHelpText(
    "after",
    `
Examples:
  jobico serve
  jobico serve --data .jobico --components ctl,repo,listener,recorder --port 8080
  jobico serve --data .jobico --components executor --port 8081 --workers 2`,
  );
  return cmd.action(async (flags: Record<string, string | undefined>) => {
    const env: Partial<Record<SettingName, string>> = {};
    const given: Partial<Record<SettingName, string>> = {};
    for (const [name, [flag]] of Object.entries(SETTINGS)) {
      const key = name as SettingName;
      if (ctx.io.env[key] !== undefined) env[key] = ctx.io.env[key];
      const value = flags[camel(flag)];
      if (value === undefined) continue;
      // A directory or file given here is taken from where it was typed.
      given[key] = PATHS.includes(key) && !/^https?:|^:memory:$/.test(value)
        ? ctx.path(value)
        : value;
    }
    let config;
    try {
      serverConfig(env, "env");
      config = serverConfig({ ...env, ...given }, "flag");
    } catch (err) {
      if (err instanceof SettingError) {
        throw new UsageError(err.message, {
          hint: 'Run "jobico serve --help"',
        });
      }
      throw err;
    }
    await runServer(config, { stateFile: localPlatformsFile(ctx.io.env) });
  });
}
