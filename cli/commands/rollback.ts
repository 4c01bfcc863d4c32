import { type Command, InvalidArgumentError } from "commander";
import { ApiError } from "../api_error.ts";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";
import type { JobicoClient } from "../client.ts";

interface RollbackOptions {
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
  return parent.command("rollback")
    .description("Make an earlier version of a package current again")
    .usage("[<tenant>] <id> --version <n> [options]")
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
      "the tenant, when only the id is given (env: JOBICO_TENANT, default: the token's)",
    )
    .option("--json", "print the result as JSON")
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
        const id = second ?? first;
        const tenant = second !== undefined
          ? first
          : await tenantOf(ctx, client, id, options);
        const res = await client.rollback(tenant, id, options.version);
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

/** The tenant of `jobico rollback <id>`: --tenant, JOBICO_TENANT, or the token's. */
async function tenantOf(
  ctx: CliContext,
  client: JobicoClient,
  id: string,
  options: RollbackOptions,
): Promise<string> {
  const given = options.tenant || ctx.io.env.JOBICO_TENANT;
  if (given) return given;
  const hint = `Pass --tenant <tenant> or set JOBICO_TENANT, ` +
    `e.g. jobico rollback ${id} --version ${options.version} --tenant demo`;
  let me;
  try {
    me = await client.whoami();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      throw new UsageError(
        `Cannot tell the tenant of package "${id}": the platform does not say whose token this is`,
        { hint },
      );
    }
    throw error;
  }
  if (me.principal === "tenant") return me.tenant;
  throw new UsageError(
    `Cannot tell the tenant of package "${id}": the admin token belongs to no tenant`,
    { hint },
  );
}
