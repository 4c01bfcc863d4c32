import { withExecutionFilters } from "./_execution_filters.ts";
import type { Command } from "commander";
import type { ExecutionStatus } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import { formatExecutionLine } from "../output.ts";

interface StreamOptions {
  package?: string;
  event?: string;
  status?: ExecutionStatus;
  logs?: boolean;
  json?: boolean;
}

/**
 * `jobico stream-from-recorder <tenant>`: prints executions as the recorder
 * stores them, until Ctrl-C or the server ends the stream.
 */
export function streamFromRecorderCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return withExecutionFilters(
    parent.command("stream-from-recorder")
      .description("Follow a tenant's executions live (until Ctrl-C)")
      .argument("<tenant>", "the tenant"),
  )
    .option("--logs", "print each execution's logs under it")
    .option("--json", "print each execution as one line of JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico stream-from-recorder demo --logs
  jobico stream-from-recorder demo --status error --json`,
    )
    .action(
      async (tenant: string, options: StreamOptions, command: Command) => {
        const client = ctx.client(command);
        const stream = await client.streamExecutions(tenant, {
          package: options.package,
          event: options.event,
          status: options.status,
          signal: ctx.io.signal,
        });
        if (!options.json) {
          ctx.err.line(ctx.err.colors.dim(
            `Streaming executions of ${tenant} from ${client.url}` +
              " (Ctrl-C to stop)",
          ));
        }
        for await (const execution of stream) {
          if (options.json) {
            ctx.out.jsonLine(execution);
          } else {
            ctx.out.write(formatExecutionLine(execution, {
              colors: ctx.out.colors,
              logs: options.logs,
            }));
          }
        }
      },
    );
}
