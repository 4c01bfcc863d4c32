import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { queuesDeadCommand } from "./queues_dead.ts";
import { queuesListCommand } from "./queues_list.ts";
import { queuesPurgeCommand } from "./queues_purge.ts";
import { queuesReplayCommand } from "./queues_replay.ts";

/** `jobico queues list|dead|replay|purge`. */
export function queuesCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("queues")
    .description(
      "Inspect a tenant's queues and replay or purge their dead letters",
    );
  queuesListCommand(group, ctx);
  queuesDeadCommand(group, ctx);
  queuesReplayCommand(group, ctx);
  queuesPurgeCommand(group, ctx);
  return group;
}
