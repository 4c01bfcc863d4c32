/**
 * The `jobico` command: `deno task jobico <command>`, or installed with
 * `deno install -g -n jobico --config deno.json --allow-net --allow-read
 * --allow-env cli/main.ts` (the config carries the npm imports).
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import denoJson from "../deno.json" with { type: "json" };
import { ApiError, ConnectionError } from "./api_error.ts";
import { CliContext, type CliIo, DEFAULT_URL } from "./cli_context.ts";
import { CliError, HELP_HINT } from "./cli_error.ts";
import {
  deployCommand,
  executionsCommand,
  filesCommand,
  packagesCommand,
  queuesCommand,
  redeployCommand,
  rollbackCommand,
  sendCommand,
  serveCommand,
  statusCommand,
  streamFromRecorderCommand,
  tenantCommand,
  uploadSchemaCommand,
  uploadWasmCommand,
} from "./commands/mod.ts";
import { stripAnsi } from "./output.ts";
import { terminalIo } from "./terminal_io.ts";

/** The CLI's version: the project's. */
export const VERSION: string = denoJson.version;

export const START_HINT =
  "Is the platform running? Start it with: deno task dev";
export const TOKEN_HINT = "Pass --token or set JOBICO_TOKEN";

const EXAMPLES = `
Examples:
  jobico upload-wasm demo examples/greet/greet.wasm
  jobico upload-schema demo examples/greet/greet.schema.json
  jobico deploy examples/greet/job.yaml
  jobico redeploy greet --config new.yaml --wasm greet.wasm --dry-run
  jobico send demo greet '{"name":"Ada"}'
  jobico stream-from-recorder demo --logs
  jobico executions list demo --status failed
  jobico queues dead demo greetings
  jobico queues replay demo greetings`;

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
    // Only -V: a program-wide --version would shadow `rollback --version`,
    // since commander reads program options after the subcommand too;
    // run() answers a bare `jobico --version` itself.
    .version(VERSION, "-V", "print the version (also --version)")
    .helpOption("-h, --help", "print help")
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
    .addHelpText("after", EXAMPLES);
  uploadWasmCommand(program, ctx);
  uploadSchemaCommand(program, ctx);
  deployCommand(program, ctx);
  redeployCommand(program, ctx);
  rollbackCommand(program, ctx);
  packagesCommand(program, ctx);
  filesCommand(program, ctx);
  sendCommand(program, ctx);
  executionsCommand(program, ctx);
  queuesCommand(program, ctx);
  streamFromRecorderCommand(program, ctx);
  statusCommand(program, ctx);
  tenantCommand(program, ctx);
  serveCommand(program, ctx);
  return program;
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit
 * code: 0 success, 1 failure, 2 usage mistake, 130 interrupted.
 */
export async function run(
  args: string[],
  io: CliIo = terminalIo(),
): Promise<number> {
  const ctx = new CliContext(io);
  if (asksForVersion(args)) {
    ctx.out.line(VERSION);
    return 0;
  }
  try {
    await createProgram(ctx).parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    return report(ctx, error);
  }
}

function report(ctx: CliContext, error: unknown): number {
  const colors = ctx.err.colors;
  const print = (message: string, hint?: string) => {
    ctx.err.line(`${colors.red("error:")} ${oneLine(message)}`);
    if (hint) ctx.err.line(`${colors.dim("hint:")} ${hint}`);
  };
  if (error instanceof CommanderError) {
    switch (error.code) {
      case "commander.helpDisplayed":
      case "commander.version":
        return 0;
      case "commander.help": // `help <command>`, or a group without one
        return error.exitCode === 0 ? 0 : 2;
    }
    print(error.message.replace(/^error:\s*/, ""), HELP_HINT);
    return 2;
  }
  if (ctx.io.signal?.aborted) return 130;
  if (error instanceof ApiError) {
    const hint = error.status === 401
      ? TOKEN_HINT
      : error.status === 403
      ? "The token does not grant this; use the tenant's token or the admin token"
      : undefined;
    print(`${error.message} (HTTP ${error.status})`, hint);
    return 1;
  }
  if (error instanceof ConnectionError) {
    print(error.message, START_HINT);
    return 1;
  }
  if (error instanceof CliError) {
    print(error.message, error.hint);
    return error.exitCode;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    print(
      error.message,
      "Run with --allow-net --allow-read --allow-env (deno task jobico does)",
    );
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  print(message);
  if (ctx.io.env.JOBICO_DEBUG && error instanceof Error && error.stack) {
    ctx.err.line(error.stack);
  }
  return 1;
}

/** `jobico --version`, possibly after global options, but no command. */
function asksForVersion(args: string[]): boolean {
  if (!args.includes("--version")) return false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--url" || args[i] === "--token") i++;
    else if (!args[i].startsWith("-")) return false;
  }
  return true;
}

function oneLine(text: string): string {
  return text.trim().replace(/\s*\r?\n\s*/g, " ");
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
