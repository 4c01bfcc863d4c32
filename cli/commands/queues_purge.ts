import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { confirmDelete } from "./_confirm.ts";

interface PurgeOptions {
  yes?: boolean;
  json?: boolean;
}

/** `jobico queues purge <tenant> <queue> [ids...] --yes`. */
export function queuesPurgeCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("purge")
    .description(
      "Delete dead letters for good: those given, or all (asks first; --yes does not)",
    )
    .argument("<tenant>", "the tenant")
    .argument("<queue>", "the queue id")
    .argument(
      "[ids...]",
      "dead letter ids (see: jobico queues dead); all when none",
    )
    .option(
      "-y, --yes",
      "do not ask: the dead letters cannot be recovered (needed without a terminal)",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico queues dead demo greetings
  jobico queues purge demo greetings --yes`,
    )
    .action(
      async (
        tenant: string,
        queue: string,
        ids: string[],
        options: PurgeOptions,
        command,
      ) => {
        await confirmDelete(ctx, options.yes, {
          what: ids.length === 0
            ? `every dead letter of queue ${queue}`
            : `${ids.length} dead letter${
              ids.length === 1 ? "" : "s"
            } of queue ${queue}`,
          check: `Check them with "jobico queues dead ${tenant} ${queue}"`,
        });
        const res = await ctx.client(command).purgeDeadLetters(
          tenant,
          queue,
          ids,
        );
        if (options.json) return ctx.out.json(res);
        ctx.out.line(
          `Purged ${res.purged} dead letter${
            res.purged === 1 ? "" : "s"
          } of queue ${queue}`,
        );
      },
    );
}
