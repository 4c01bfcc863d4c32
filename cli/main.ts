/**
 * The `jobico` command: `deno task jobico <command>`, or installed with
 * `deno install -g -n jobico --config deno.json --allow-net --allow-read
 * --allow-write --allow-env --allow-sys=hostname,osRelease cli/main.ts`
 * (the config carries the npm imports).
 *
 * @module
 */
import { Command } from "commander";
import { VERSION } from "../components/version.ts";
import { CliContext, type CliIo, DEFAULT_URL } from "./cli_context.ts";
import {
  completionCommand,
  configCommand,
  dashboardCommand,
  deployCommand,
  eventsCommand,
  executionsCommand,
  filesCommand,
  packagesCommand,
  queuesCommand,
  redeployCommand,
  rollbackCommand,
  schedulesCommand,
  sendCommand,
  serveCommand,
  statusCommand,
  streamFromRecorderCommand,
  tenantCommand,
  uploadSchemaCommand,
  uploadWasmCommand,
} from "./commands/mod.ts";
import { groupCommands } from "./help_groups.ts";
import { stripAnsi } from "./output.ts";
import { reportError } from "./report_error.ts";
import { terminalIo } from "./terminal_io.ts";

export { START_HINT, TOKEN_HINT } from "./report_error.ts";

/** The CLI's version: the project's. */
export { VERSION };

const EXAMPLES = `
Examples:
  jobico upload-wasm demo examples/greet/greet.wasm
  jobico upload-schema demo examples/greet/greet.schema.json
  jobico deploy examples/greet/job.yaml --wait
  jobico redeploy greet --config examples/greet/job.yaml --dry-run
  jobico send demo greet '{"name":"Ada"}'
  jobico stream-from-recorder demo --logs
  jobico executions list demo --status error
  jobico files show demo greet.wasm
  jobico queues stats demo
  jobico queues replay demo greetings
  jobico status

Exit codes: 0 done, 1 failed, 2 a mistake in the command (with a hint), 130
interrupted. Data commands take --json. The URL and token come from --url and
--token, JOBICO_URL and JOBICO_TOKEN, a profile (jobico config --help), or
else from the platform last started on this machine (jobico config shows
which). Relative paths are taken from the directory the command is typed in.`;

/** Builds the commander program; its commands write through `ctx`. */
export function createProgram(ctx: CliContext): Command {
  const { io } = ctx;
  const program = new Command("jobico")
    .description(
      "Manage a Jobico platform: upload files, deploy packages, send events, " +
        "follow executions, replay dead letters",
    )
    .option(
      "--url <url>",
      `the platform URL (env: JOBICO_URL, default: ${DEFAULT_URL})`,
    )
    .option("--token <token>", "the bearer token (env: JOBICO_TOKEN)")
    .option(
      "--profile <name>",
      "use a profile of the config file (env: JOBICO_PROFILE; see: jobico config)",
    )
    .option(
      "--no-color",
      "no colours (also: NO_COLOR=1, or output not a terminal)",
    )
    // Only -V: a program-wide --version would shadow `rollback --version`,
    // since commander reads program options after the subcommand too;
    // run() answers a bare `jobico --version` itself.
    .version(VERSION, "-V", "print the version (also --version)")
    .helpOption("-h, --help", "print help")
    .commandsGroup("Setup:") // where `help` goes
    .helpCommand("help [command]", "print help for a command")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // run() reports errors itself, on one line and with a hint.
      outputError: () => {},
      getOutHelpWidth: () => io.stdout.columns?.() ?? 80,
      getErrHelpWidth: () => io.stderr.columns?.() ?? 80,
      getOutHasColors: () => ctx.out.colors.enabled,
      getErrHasColors: () => ctx.err.colors.enabled,
      stripColor: stripAnsi,
    })
    .configureHelp({ subcommandTerm })
    .addHelpText("after", EXAMPLES)
    .hook("preAction", (_program, action) => void (ctx.command = action));
  uploadWasmCommand(program, ctx);
  uploadSchemaCommand(program, ctx);
  deployCommand(program, ctx);
  redeployCommand(program, ctx);
  rollbackCommand(program, ctx);
  packagesCommand(program, ctx);
  filesCommand(program, ctx);
  sendCommand(program, ctx);
  eventsCommand(program, ctx);
  executionsCommand(program, ctx);
  queuesCommand(program, ctx);
  schedulesCommand(program, ctx);
  streamFromRecorderCommand(program, ctx);
  statusCommand(program, ctx);
  dashboardCommand(program, ctx);
  tenantCommand(program, ctx);
  serveCommand(program, ctx);
  configCommand(program, ctx);
  completionCommand(program, ctx);
  groupCommands(program);
  // Which command was being parsed when a mistake was found: error hints
  // name its help. (preSubcommand hooks apply to their own command only.)
  const track = (command: Command) => {
    command.hook("preSubcommand", (_parent, sub) => void (ctx.command = sub));
    for (const sub of command.commands) {
      if (sub.commands.length) track(sub);
    }
  };
  track(program);
  return program;
}

/**
 * A command in its parent's help: `list|ls <tenant> [queue]`, its usage
 * without commander's `[options]`, so that descriptions fit beside on 80
 * columns.
 */
function subcommandTerm(command: Command): string {
  const alias = command.aliases()[0];
  const name = command.name() + (alias ? `|${alias}` : "");
  if (command.commands.length) return name;
  const usage = command.usage().replace(/\s*\[options\]/g, "").trim();
  return usage ? `${name} ${usage}` : name;
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit
 * code: 0 success, 1 failure, 2 usage mistake, 130 interrupted.
 */
export async function run(
  args: string[],
  io: CliIo = terminalIo(),
): Promise<number> {
  const ctx = new CliContext(io, { color: !globalFlag(args, "--no-color") });
  if (asksForVersion(args)) {
    ctx.out.line(VERSION);
    return 0;
  }
  try {
    await createProgram(ctx).parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    return reportError(ctx, error);
  }
}

/** `jobico --version`, possibly after global options, but no command. */
function asksForVersion(args: string[]): boolean {
  if (!args.includes("--version")) return false;
  for (let i = 0; i < args.length; i++) {
    if (VALUED_GLOBALS.includes(args[i])) i++;
    else if (!args[i].startsWith("-")) return false;
  }
  return true;
}

const VALUED_GLOBALS = ["--url", "--token", "--profile"];

/**
 * Whether a flag is given before any `--`: `--no-color` must be known before
 * commander parses, as help and errors may be printed while it does.
 */
function globalFlag(args: string[], flag: string): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes(flag);
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
