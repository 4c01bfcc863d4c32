import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { filesDeleteCommand } from "./files_delete.ts";
import { filesListCommand } from "./files_list.ts";
import { filesShowCommand } from "./files_show.ts";

/** `jobico files list|show|delete` (uploads: `jobico upload-wasm|upload-schema`). */
export function filesCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("files")
    .description(
      "Inspect and delete a tenant's uploaded wasm and schema files",
    );
  filesListCommand(group, ctx);
  filesShowCommand(group, ctx);
  filesDeleteCommand(group, ctx);
  return group;
}
