import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";

/** `jobico queues replay <tenant> <queue> [ids...]`. */
export function queuesReplayCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return parent.command("replay")
    .description(
      "Put dead letters back in their queue to run again: those given, or all",
    )
    .argument("<tenant>", "the tenant")
    .argument("<queue>", "the queue id")
    .argument(
      "[ids...]",
      "dead letter ids (see: jobico queues dead); all when none",
    )
    .option("--json", "print the result as JSON")
    .action(
      async (
        tenant: string,
        queue: string,
        ids: string[],
        options: { json?: boolean },
        command,
      ) => {
        const res = await ctx.client(command).replayDeadLetters(
          tenant,
          queue,
          ids,
        );
        if (options.json) return ctx.out.json(res);
        ctx.out.line(
          `Replayed ${res.replayed} dead letter${
            res.replayed === 1 ? "" : "s"
          } of queue ${queue}`,
        );
        if (res.notFound.length > 0) {
          ctx.out.line(
            `Not dead letters of queue ${queue}: ${res.notFound.join(", ")}`,
          );
        }
      },
    );
}
