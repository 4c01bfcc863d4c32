import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { executionsListCommand } from "./executions_list.ts";

/** `jobico executions list`. */
export function executionsCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("executions")
    .description("Query the executions the recorder keeps");
  executionsListCommand(group, ctx);
  return group;
}
