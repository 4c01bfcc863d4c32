import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatAge } from "../output.ts";

/** `jobico queues list <tenant>`. */
export function queuesListCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("list")
    .alias("ls")
    .description("List a tenant's queues with what each holds and has done")
    .argument("<tenant>", "the tenant")
    .option("--json", "print the result as JSON")
    .action(async (tenant: string, options: { json?: boolean }, command) => {
      const queues = await ctx.client(command).listQueues(tenant);
      if (options.json) return ctx.out.json({ queues });
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
