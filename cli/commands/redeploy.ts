import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import {
  deployFlow,
  type DeployOptions,
  deployOptions,
} from "./_deploy_flow.ts";

/**
 * `jobico redeploy <package> --config new.yaml` (or `redeploy <file.yaml>`):
 * deploys a change to a package that exists, as its next version.
 */
export function redeployCommand(parent: Command, ctx: CliContext): Command {
  return deployOptions(
    parent.command("redeploy")
      .description(
        "Deploy a change to an existing package as its next version",
      )
      .addHelpText(
        "after",
        `
Examples:
  jobico redeploy greet --config examples/greet/job.yaml --dry-run
  jobico redeploy greet --config examples/greet/job.yaml --wasm examples/greet/greet.wasm --wait
  jobico redeploy examples/greet/job.yaml --json`,
      ),
  ).action((target: string, options: DeployOptions, command: Command) =>
    deployFlow(ctx, command, target, options, "redeploy")
  );
}
