import { withExecutionFilters } from "./_execution_filters.ts";
import type { Command } from "commander";
import type { ExecutionQuery, ExecutionStatus } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import {
  formatDateTime,
  formatDuration,
  formatOutcome,
  formatStatus,
} from "../output.ts";
import { positiveInteger } from "./rollback.ts";

interface ListOptions {
  package?: string;
  event?: string;
  status?: ExecutionStatus;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

/** `jobico executions list <tenant>`: one page, newest first. */
export function executionsListCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return withExecutionFilters(
    parent.command("list")
      .alias("ls")
      .description("List a tenant's executions, newest first")
      .argument("<tenant>", "the tenant"),
  )
    .option("--limit <n>", "at most this many executions", positiveInteger)
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--json", "print the page as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico executions list demo
  jobico executions list demo --status error --limit 5
  jobico executions list demo --package greet --event greet --json`,
    )
    .action(async (tenant: string, options: ListOptions, command: Command) => {
      const query: ExecutionQuery = {
        package: options.package,
        event: options.event,
        status: options.status,
        limit: options.limit,
        cursor: options.cursor,
      };
      const page = await ctx.client(command).listExecutions(tenant, query);
      if (options.json) return ctx.out.json(page);
      const colors = ctx.out.colors;
      if (page.executions.length === 0) {
        ctx.out.line(`No executions in ${tenant}`);
      } else {
        ctx.out.table(
          ["STARTED", "STATUS", "PACKAGE/EVENT", "CODE", "TIME", "RESULT"],
          page.executions.map((e) => [
            formatDateTime(e.startedAt),
            formatStatus(e.status, colors),
            `${e.package}/${e.event}`,
            e.code === null || e.code === undefined ? "-" : String(e.code),
            formatDuration(e.durationMs),
            formatOutcome(e, 60),
          ]),
        );
      }
      if (page.cursor) {
        ctx.out.line(colors.dim(
          `More: jobico executions list ${tenant} --cursor ${page.cursor}`,
        ));
      }
    });
}
