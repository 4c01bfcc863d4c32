import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";

/** `jobico files list <tenant>`. */
export function filesListCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("list")
    .alias("ls")
    .description("List a tenant's uploaded files")
    .argument("<tenant>", "the tenant")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico files list demo
  jobico files list demo --json`,
    )
    .action(async (tenant: string, options: { json?: boolean }, command) => {
      const files = await ctx.client(command).listFiles(tenant);
      if (options.json) return ctx.out.json({ files });
      if (files.length === 0) return ctx.out.line(`No files in ${tenant}`);
      ctx.out.table(
        ["NAME", "KIND", "SIZE", "SHA256", "UPLOADED"],
        files.map((f) => [
          f.name,
          f.kind,
          String(f.size),
          f.sha256.slice(0, 12),
          formatDateTime(f.uploadedAt),
        ]),
      );
    });
}
