import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";

/** `jobico packages versions <tenant> <id>`. */
export function packagesVersionsCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return parent.command("versions")
    .description("List the versions of a package, who deployed each and when")
    .argument("<tenant>", "the tenant")
    .argument("<id>", "the package id")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico packages versions demo greet
  jobico packages versions demo greet --json`,
    )
    .action(
      async (tenant: string, id: string, options: { json?: boolean }, cmd) => {
        const versions = await ctx.client(cmd).listVersions(tenant, id);
        if (options.json) return ctx.out.json({ versions });
        ctx.out.table(
          ["VERSION", "DEPLOYED", "DEPLOYED BY", "CURRENT", "NOTE"],
          versions.map((v) => [
            String(v.version),
            formatDateTime(v.deployedAt),
            v.deployedBy ?? "-",
            v.current ? ctx.out.colors.green("*") : "",
            v.rollbackOf ? `rollback to ${v.rollbackOf}` : "",
          ]),
        );
      },
    );
}
