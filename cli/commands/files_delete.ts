import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { confirmDelete } from "./_confirm.ts";

/** `jobico files delete <tenant> <name>`. */
export function filesDeleteCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("delete")
    .alias("rm")
    .description(
      "Delete a tenant's file (package versions that use its content keep it; asks first)",
    )
    .argument("<tenant>", "the tenant")
    .argument("<name>", "the file name")
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
The file no longer counts against the tenant's files quota; its bytes count
until no kept package version uses its content either.

Examples:
  jobico files delete demo greet.schema.json --yes`,
    )
    .action(
      async (
        tenant: string,
        name: string,
        options: { json?: boolean; yes?: boolean },
        cmd: Command,
      ) => {
        await confirmDelete(ctx, options.yes, {
          what: `file ${tenant}/${name}`,
          check: `Check it with "jobico files show ${tenant} ${name}"`,
        });
        await ctx.client(cmd).deleteFile(tenant, name);
        if (options.json) return ctx.out.json({ tenant, name, deleted: true });
        ctx.out.line(`Deleted ${tenant}/${name}`);
      },
    );
}
