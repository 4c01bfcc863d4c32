import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { queuesDeadCommand } from "./queues_dead.ts";
import { queuesDelayedCommand } from "./queues_delayed.ts";
import { queuesLimitsCommand } from "./queues_limits.ts";
import { queuesListCommand } from "./queues_list.ts";
import { queuesPurgeCommand } from "./queues_purge.ts";
import { queuesReplayCommand } from "./queues_replay.ts";

/** `jobico queues list|delayed|limits|dead|replay|purge`. */
export function queuesCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("queues")
    .description(
      "Inspect a tenant's queues, their delayed events and flow limits, and replay or purge their dead letters",
    );
  queuesListCommand(group, ctx);
  queuesDelayedCommand(group, ctx);
  queuesLimitsCommand(group, ctx);
  queuesDeadCommand(group, ctx);
  queuesReplayCommand(group, ctx);
  queuesPurgeCommand(group, ctx);
  return group;
}
