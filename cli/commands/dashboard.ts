import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";

/**
 * `jobico dashboard`: the terminal UI over tenants, packages, files, queues
 * and live executions. Loaded on demand, so other commands never load React.
 */
export function dashboardCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("dashboard")
    .description(
      "Open the terminal dashboard: tenants, packages, files, queues, " +
        "live executions and the platform's health (q quits)",
    )
    .action(async (_options: unknown, command: Command) => {
      if (!ctx.io.stdout.isTerminal?.() || !Deno.stdin.isTerminal()) {
        throw new UsageError("The dashboard needs an interactive terminal", {
          hint: "Run it in a terminal; scripts can use jobico status, " +
            "queues list and stream-from-recorder --json",
        });
      }
      const client = ctx.client(command);
      // Fails like any command (one line and a hint) when the platform is
      // down or the token is wrong, instead of opening an empty screen.
      await client.whoami();
      const { runDashboard } = await import("../dashboard/run_dashboard.tsx");
      await runDashboard({
        client,
        colors: ctx.out.colors.enabled,
        signal: ctx.io.signal,
      });
    });
}
