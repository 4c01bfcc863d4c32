import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { filesListCommand } from "./files_list.ts";

/** `jobico files list`. */
export function filesCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("files")
    .description("Inspect a tenant's uploaded wasm and schema files");
  filesListCommand(group, ctx);
  return group;
}
