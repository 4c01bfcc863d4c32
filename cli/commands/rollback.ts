import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../cli_context.ts";

interface RollbackOptions {
  version: number;
  json?: boolean;
}

/** Parses a positive integer option value (commander reports it as exit 2). */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError("Expected a positive integer.");
  }
  return Number(value);
}

/** `jobico rollback <tenant> <id> --version N` (also `packages rollback`). */
export function rollbackCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("rollback")
    .description("Make an earlier version of a package current again")
    .argument("<tenant>", "the tenant")
    .argument("<id>", "the package id")
    .requiredOption(
      "--version <n>",
      "the version to go back to",
      positiveInteger,
    )
    .option("--json", "print the result as JSON")
    .action(
      async (tenant: string, id: string, options: RollbackOptions, cmd) => {
        const res = await ctx.client(cmd).rollback(tenant, id, options.version);
        if (options.json) return ctx.out.json(res);
        ctx.out.line(
          `Rolled back ${res.tenant}/${res.id} to version ${options.version}` +
            (res.version === options.version
              ? ""
              : ` (now current as version ${res.version})`),
        );
      },
    );
}
