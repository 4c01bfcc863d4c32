import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";

/** `jobico packages show <tenant> <id>`: prints the stored YAML. */
export function packagesShowCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("show")
    .description("Print the YAML of a package's current version")
    .argument("<tenant>", "the tenant")
    .argument("<id>", "the package id")
    .option("--json", "print the package and its metadata as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico packages show demo greet
  jobico packages show demo greet --json`,
    )
    .action(
      async (tenant: string, id: string, options: { json?: boolean }, cmd) => {
        const detail = await ctx.client(cmd).getPackage(tenant, id);
        if (options.json) return ctx.out.json(detail);
        const source = detail.source ?? "";
        ctx.out.writeTenantText(
          source.endsWith("\n") || !source ? source : source + "\n",
        );
      },
    );
}
