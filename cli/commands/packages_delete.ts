import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";

/** `jobico packages delete <tenant> <id>`. */
export function packagesDeleteCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return parent.command("delete")
    .alias("rm")
    .description("Delete a package and all its versions")
    .argument("<tenant>", "the tenant")
    .argument("<id>", "the package id")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico packages delete demo greet`,
    )
    .action(
      async (tenant: string, id: string, options: { json?: boolean }, cmd) => {
        await ctx.client(cmd).deletePackage(tenant, id);
        if (options.json) return ctx.out.json({ tenant, id, deleted: true });
        ctx.out.line(`Deleted ${tenant}/${id}`);
      },
    );
}
