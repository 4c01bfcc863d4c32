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
      )
      .addHelpText(
        "after",
        `
The files of --wasm and --schema go to the package's tenant under their
file names. --wait returns once the platform routes new events to the new
version; --wait-for names other processes (jobico serve --components).

Examples:
  jobico deploy examples/greet/job.yaml
  jobico deploy examples/greet/job.yaml --dry-run
  jobico deploy greet --config examples/greet/job.yaml --wasm examples/greet/greet.wasm --schema examples/greet/greet.schema.json
  jobico deploy examples/greet/job.yaml --wait
  jobico deploy examples/greet/job.yaml --wait-for http://127.0.0.1:8081 --json`,
      ),
  ).action((target: string, options: DeployOptions, command: Command) =>
    deployFlow(ctx, command, target, options, "deploy")
  );
}
