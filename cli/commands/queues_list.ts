import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatAge } from "../output.ts";

/** `jobico queues list <tenant> [queue]` (also `queues stats`). */
export function queuesListCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("list")
    .aliases(["stats", "ls"])
    .description(
      "Show a tenant's queues (or one) with what each holds and has done",
    )
    .argument("<tenant>", "the tenant")
    .argument("[queue]", "only this queue")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
DEPTH waits to run, IN-FLIGHT runs now, DELAYED waits for a retry, DEAD failed
every retry (see: jobico queues dead), PROCESSED ran to the end, OLDEST is the
age of the oldest waiting event.

Examples:
  jobico queues list demo
  jobico queues stats demo greetings --json`,
    )
    .action(async (
      tenant: string,
      queue: string | undefined,
      options: { json?: boolean },
      command,
    ) => {
      const client = ctx.client(command);
      const queues = queue === undefined
        ? await client.listQueues(tenant)
        : [await client.getQueue(tenant, queue)];
      if (options.json) {
        return ctx.out.json(queue === undefined ? { queues } : queues[0]);
      }
      if (queues.length === 0) return ctx.out.line(`No queues in ${tenant}`);
      const colors = ctx.out.colors;
      ctx.out.table(
        [
          "ID",
          "DEPTH",
          "IN-FLIGHT",
          "DELAYED",
          "DEAD",
          "PROCESSED",
          "OLDEST",
        ],
        queues.map((q) => [
          q.id,
          String(q.depth),
          String(q.inFlight),
          String(q.delayed),
          q.dead > 0 ? colors.red(String(q.dead)) : String(q.dead),
          String(q.processed),
          formatAge(q.oldestAgeMs),
        ]),
      );
    });
}
