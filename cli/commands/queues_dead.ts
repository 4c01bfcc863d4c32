import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime, truncate, visibleWidth } from "../output.ts";
import { positiveInteger } from "./rollback.ts";

interface DeadOptions {
  limit?: number;
  cursor?: string;
  json?: boolean;
}

/** The narrowest the ERROR column gets, however narrow the terminal. */
const MIN_ERROR_WIDTH = 20;

/** `jobico queues dead <tenant> <queue>`: one page of dead letters, oldest first. */
export function queuesDeadCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("dead")
    .description(
      "List a queue's dead letters (events that failed every retry), oldest first",
    )
    .argument("<tenant>", "the tenant")
    .argument("<queue>", "the queue id")
    .option("--limit <n>", "at most this many (1 to 1000)", positiveInteger)
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--json", "print the page as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico queues dead demo greetings
  jobico queues dead demo greetings --limit 10 --json`,
    )
    .action(
      async (tenant: string, queue: string, options: DeadOptions, command) => {
        const page = await ctx.client(command).listDeadLetters(tenant, queue, {
          limit: options.limit,
          cursor: options.cursor,
        });
        if (options.json) return ctx.out.json(page);
        const colors = ctx.out.colors;
        if (page.dead.length === 0) {
          ctx.out.line(`No dead letters in queue ${queue} of ${tenant}`);
        } else {
          const rows = page.dead.map((d) => [
            d.id,
            d.event,
            String(d.failures),
            formatDateTime(d.failedAt),
            oneLine(d.error),
          ]);
          const headers = ["ID", "EVENT", "FAILURES", "FAILED-AT", "ERROR"];
          // The error takes what the other columns leave of the terminal.
          const used = [0, 1, 2, 3].reduce(
            (sum, c) =>
              sum + 2 +
              Math.max(...[headers, ...rows].map((r) => visibleWidth(r[c]))),
            0,
          );
          const columns = ctx.io.stdout.columns?.() ?? 120;
          const width = Math.max(MIN_ERROR_WIDTH, columns - used);
          for (const r of rows) r[4] = truncate(r[4], width);
          ctx.out.table(headers, rows);
        }
        if (page.cursor) {
          ctx.out.line(colors.dim(
            `More: jobico queues dead ${tenant} ${queue} --cursor ${page.cursor}`,
          ));
        }
      },
    );
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, " ").trim();
}
