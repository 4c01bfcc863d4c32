import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import {
  deployFlow,
  type DeployOptions,
  deployOptions,
} from "./_deploy_flow.ts";

/**
 * `jobico deploy <file.yaml>`, or the seed's form `jobico deploy <package>
 * --config job.yaml [--wasm logic.wasm] [--schema event.json]`: uploads the
 * files to the package's tenant, then deploys; an existing id gets a new
 * version. `--dry-run` shows what would change.
 */
export function deployCommand(parent: Command, ctx: CliContext): Command {
  return deployOptions(
    parent.command("deploy")
      .description(
        "Deploy a job package (YAML), uploading its files first; an existing id gets a new version",
      ),
  ).action((target: string, options: DeployOptions, command: Command) =>
    deployFlow(ctx, command, target, options, "deploy")
  );
}
