import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";

interface PurgeOptions {
  yes?: boolean;
  json?: boolean;
}

/** `jobico queues purge <tenant> <queue> [ids...] --yes`. */
export function queuesPurgeCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("purge")
    .description(
      "Delete dead letters for good: those given, or all (needs --yes)",
    )
    .argument("<tenant>", "the tenant")
    .argument("<queue>", "the queue id")
    .argument(
      "[ids...]",
      "dead letter ids (see: jobico queues dead); all when none",
    )
    .option("-y, --yes", "confirm: the dead letters cannot be recovered")
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
        if (!options.yes) {
          const what = ids.length === 0
            ? `every dead letter of queue ${queue}`
            : `${ids.length} dead letter${
              ids.length === 1 ? "" : "s"
            } of queue ${queue}`;
          throw new UsageError(
            `Refusing to delete ${what} without --yes`,
            {
              hint:
                `Check them with "jobico queues dead ${tenant} ${queue}", ` +
                "then run the command again with --yes",
            },
          );
        }
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
