import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";
import { positiveInteger } from "./rollback.ts";

/** `jobico events delayed|cancel`. */
export function eventsCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("events")
    .description("List an event's delayed items and cancel waiting ones");
  eventsDelayedCommand(group, ctx);
  eventsCancelCommand(group, ctx);
  return group;
}

/** `jobico events delayed <tenant> <event>`: one page, by id. */
function eventsDelayedCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("delayed")
    .description("List an event's items put off with --delay or --run-at")
    .argument("<tenant>", "the tenant")
    .argument("<event>", "the event id")
    .option("--limit <n>", "at most this many items", positiveInteger)
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--json", "print the page as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico events delayed demo greet
  jobico events delayed demo greet --json`,
    )
    .action(
      async (
        tenant: string,
        event: string,
        options: { limit?: number; cursor?: string; json?: boolean },
        command: Command,
      ) => {
        const page = await ctx.client(command).listDelayed(tenant, event, {
          limit: options.limit,
          cursor: options.cursor,
        });
        if (options.json) return ctx.out.json(page);
        if (page.delayed.length === 0) {
          ctx.out.line(`No delayed items of ${tenant}/${event}`);
        }
        for (const d of page.delayed) {
          ctx.out.line(`${d.id}  runs ${formatDateTime(d.runAt)}`);
        }
        if (page.cursor) ctx.out.line(`More: --cursor ${page.cursor}`);
      },
    );
}

/** `jobico events cancel <tenant> <event> <id...>`. */
function eventsCancelCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("cancel")
    .description("Cancel event items that wait in their queue or are delayed")
    .argument("<tenant>", "the tenant")
    .argument("<event>", "the event id")
    .argument("<ids...>", "the ids the webhook answered with")
    .option("--json", "print the results as JSON")
    .addHelpText(
      "after",
      `
An item already running cannot be cancelled.

Examples:
  jobico send demo greet '{"name":"Ada"}' --delay 1h
  jobico events cancel demo greet 0mf3k2x9a0000000abc`,
    )
    .action(
      async (
        tenant: string,
        event: string,
        ids: string[],
        options: { json?: boolean },
        command: Command,
      ) => {
        const client = ctx.client(command);
        const results = [];
        for (const id of ids) {
          results.push(await client.cancelEvent(tenant, event, id));
        }
        if (options.json) return ctx.out.json(results);
        for (const r of results) {
          ctx.out.line(
            `Cancelled ${r.id} (${r.state}${
              r.runAt ? `, was to run ${formatDateTime(r.runAt)}` : ""
            })`,
          );
        }
      },
    );
}
