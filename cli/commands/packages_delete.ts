import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { confirmDelete } from "./_confirm.ts";

/** `jobico packages delete <tenant> <id>`. */
export function packagesDeleteCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return parent.command("delete")
    .alias("rm")
    .description(
      "Delete a package and all its versions (asks first; --yes does not)",
    )
    .argument("<tenant>", "the tenant")
    .argument("<id>", "the package id")
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Its events are no longer accepted; events already queued still run.

Examples:
  jobico packages delete demo greet --yes`,
    )
    .action(
      async (
        tenant: string,
        id: string,
        options: { json?: boolean; yes?: boolean },
        cmd,
      ) => {
        await confirmDelete(ctx, options.yes, {
          what: `package ${tenant}/${id} and all its versions`,
          check: `Check it with "jobico packages show ${tenant} ${id}"`,
        });
        await ctx.client(cmd).deletePackage(tenant, id);
        if (options.json) return ctx.out.json({ tenant, id, deleted: true });
        ctx.out.line(`Deleted ${tenant}/${id}`);
      },
    );
}
