import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../cli_context.ts";
import {
  describeWait,
  waitForDefinitions,
  type WaitOptions,
  waitOptions,
  wantsWait,
} from "./_wait_for_definitions.ts";
import { UsageError } from "../cli_error.ts";

interface RollbackOptions extends WaitOptions {
  version: number;
  tenant?: string;
  json?: boolean;
}

/** Parses a positive integer option value (commander reports it as exit 2). */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError("Expected a positive integer.");
  }
  return Number(value);
}

/**
 * `jobico rollback <tenant> <id> --version N` (also `packages rollback`),
 * or the seed's `jobico rollback <id> --version N`, the tenant then from
 * `--tenant`, `JOBICO_TENANT` or the token (`GET /api/v1/whoami`).
 */
export function rollbackCommand(parent: Command, ctx: CliContext): Command {
  return waitOptions(parent.command("rollback"))
    .description("Make an earlier version of a package current again")
    .usage("[tenant] <id> --version <n> [options]")
    .argument(
      "<tenant-or-id>",
      "the tenant, then the package id; or only the package id",
    )
    .argument("[id]", "the package id, after the tenant")
    .requiredOption(
      "--version <n>",
      "the version to go back to",
      positiveInteger,
    )
    .option(
      "--tenant <tenant>",
      "the tenant, when only the id is given (env: JOBICO_TENANT, or the " +
        "profile's; default: the token's)",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico packages versions demo greet
  jobico rollback demo greet --version 1
  jobico rollback greet --version 1 --tenant demo --wait`,
    )
    .action(
      async (
        first: string,
        second: string | undefined,
        options: RollbackOptions,
        cmd: Command,
      ) => {
        const client = ctx.client(cmd);
        if (second !== undefined && options.tenant !== undefined) {
          throw new UsageError(
            "Pass the tenant either as an argument or with --tenant, not both",
            {
              hint:
                `jobico rollback ${second} --version ${options.version} --tenant ${options.tenant}`,
            },
          );
        }
        const wait = wantsWait(options);
        const id = second ?? first;
        const tenant = second !== undefined ? first : await ctx.tenant(
          cmd,
          client,
          `package "${id}"`,
          `jobico rollback ${id} --version ${options.version} --tenant demo`,
        );
        const res = await client.rollback(tenant, id, options.version);
        const done =
          `Rolled back ${res.tenant}/${res.id} to version ${options.version}` +
          (res.version === options.version
            ? ""
            : ` (now current as version ${res.version})`);
        if (!wait) return options.json ? ctx.out.json(res) : ctx.out.line(done);
        if (!options.json) ctx.out.line(done);
        const reached = await waitForDefinitions(ctx, client, options, done);
        if (options.json) return ctx.out.json({ ...res, wait: reached });
        ctx.out.line(describeWait(reached));
      },
    );
}
