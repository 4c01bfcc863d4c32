import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";

/** `jobico packages list <tenant>`. */
export function packagesListCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("list")
    .alias("ls")
    .description("List a tenant's packages")
    .argument("<tenant>", "the tenant")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico packages list demo
  jobico packages list demo --json`,
    )
    .action(async (tenant: string, options: { json?: boolean }, command) => {
      const packages = await ctx.client(command).listPackages(tenant);
      if (options.json) return ctx.out.json({ packages });
      if (packages.length === 0) {
        return ctx.out.line(`No packages in ${tenant}`);
      }
      ctx.out.table(
        ["ID", "NAME", "VERSION", "DEPLOYED"],
        packages.map((p) => [
          p.id,
          p.name ?? "",
          String(p.version),
          formatDateTime(p.deployedAt),
        ]),
      );
    });
}
