import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { packagesDeleteCommand } from "./packages_delete.ts";
import { packagesListCommand } from "./packages_list.ts";
import { packagesShowCommand } from "./packages_show.ts";
import { packagesVersionsCommand } from "./packages_versions.ts";
import { rollbackCommand } from "./rollback.ts";

/** `jobico packages list|show|versions|rollback|delete`. */
export function packagesCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("packages")
    .description("Inspect and manage deployed packages");
  packagesListCommand(group, ctx);
  packagesShowCommand(group, ctx);
  packagesVersionsCommand(group, ctx);
  rollbackCommand(group, ctx);
  packagesDeleteCommand(group, ctx);
  return group;
}
