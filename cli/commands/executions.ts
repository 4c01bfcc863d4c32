import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { executionsListCommand } from "./executions_list.ts";
import { executionsRerunCommand } from "./executions_rerun.ts";

/** `jobico executions list|rerun`. */
export function executionsCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("executions")
    .description("Query the executions the recorder keeps");
  executionsListCommand(group, ctx);
  executionsRerunCommand(group, ctx);
  return group;
}
