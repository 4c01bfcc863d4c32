import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";

/**
 * `jobico executions rerun <tenant> <id...>`: sends each recorded
 * execution's input to its event again.
 */
export function executionsRerunCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return parent.command("rerun")
    .description("Run recorded executions again with their original input")
    .argument("<tenant>", "the tenant")
    .argument("<ids...>", "execution ids (see: jobico executions list)")
    .option("--json", "print the results as JSON")
    .addHelpText(
      "after",
      `
The input goes to the event's current version, validated against its
current schema; the new execution says rerunOf: <id>.

Examples:
  ID=$(jobico executions list demo --limit 1 --json | jq -r '.executions[0].id')
  jobico executions rerun demo "$ID"`,
    )
    .action(
      async (
        tenant: string,
        ids: string[],
        options: { json?: boolean },
        command: Command,
      ) => {
        const client = ctx.client(command);
        const results = [];
        for (const id of ids) {
          results.push(await client.rerunExecution(tenant, id));
        }
        if (options.json) return ctx.out.json(results);
        for (const r of results) {
          ctx.out.line(`Re-running ${r.rerunOf} as event ${r.ids[0]}`);
        }
      },
    );
}
