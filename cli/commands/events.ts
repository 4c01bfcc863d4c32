import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";

/** `jobico events cancel`. */
export function eventsCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("events")
    .description("Cancel event items that wait in their queue or are delayed");
  eventsCancelCommand(group, ctx);
  return group;
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
  ID=$(jobico send demo greet '{"name":"Ada"}' --delay 1h --json | jq -r '.ids[0]')
  jobico events cancel demo greet "$ID"`,
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
