import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";
import { positiveInteger } from "./rollback.ts";

/** `jobico queues delayed <tenant> <queue>`: one page, in id order. */
export function queuesDelayedCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return parent.command("delayed")
    .description(
      "List a queue's events put off with --delay or --run-at, not run yet",
    )
    .argument("<tenant>", "the tenant")
    .argument("<queue>", "the queue id")
    .option("--limit <n>", "at most this many items", positiveInteger)
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--json", "print the page as JSON")
    .addHelpText(
      "after",
      `
Cancel one with: jobico events cancel <tenant> <event> <id>

Examples:
  jobico send demo greet '{"name":"Ada"}' --delay 1h
  jobico queues delayed demo greetings
  jobico queues delayed demo greetings --json`,
    )
    .action(
      async (
        tenant: string,
        queue: string,
        options: { limit?: number; cursor?: string; json?: boolean },
        command: Command,
      ) => {
        const page = await ctx.client(command).listDelayed(tenant, queue, {
          limit: options.limit,
          cursor: options.cursor,
        });
        if (options.json) return ctx.out.json(page);
        if (page.delayed.length === 0) {
          ctx.out.line(`No delayed events in queue ${queue} of ${tenant}`);
        }
        for (const d of page.delayed) {
          ctx.out.line(`${d.id}  ${d.event}  runs ${formatDateTime(d.runAt)}`);
        }
        if (page.cursor) ctx.out.line(`More: --cursor ${page.cursor}`);
      },
    );
}
