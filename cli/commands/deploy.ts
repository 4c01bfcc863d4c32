import type { Command } from "commander";
import { ApiError } from "../api_error.ts";
import type { CliContext } from "../cli_context.ts";
import { CliError, UsageError } from "../cli_error.ts";

interface DeployOptions {
  json?: boolean;
}

/**
 * `jobico deploy <file.yaml>` (alias `redeploy`): deploys a job package;
 * deploying an existing id makes a new version.
 */
export function deployCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("deploy")
    .alias("redeploy")
    .description(
      "Deploy a job package (YAML); an existing id gets a new version",
    )
    .argument("<file>", "the package YAML file")
    .option("--json", "print the result as JSON")
    .action(async (file: string, options: DeployOptions, command: Command) => {
      const source = await ctx.readTextFile(file);
      if (source.trim() === "") {
        throw new UsageError(`File "${file}" is empty`, {
          hint: "Pass a job package in YAML, e.g. examples/greet/job.yaml",
        });
      }
      const client = ctx.client(command);
      try {
        const res = await client.deploy(source);
        if (options.json) return ctx.out.json(res);
        ctx.out.line(`Deployed ${res.tenant}/${res.id} version ${res.version}`);
      } catch (error) {
        if (
          error instanceof ApiError &&
          (error.status === 400 || error.status === 422) &&
          error.issues.length > 0
        ) {
          for (const issue of error.issues) {
            ctx.err.line(
              `${file}:${issue.line ?? 1}:${issue.col ?? 1}: ${issue.message}`,
            );
          }
          const count = error.issues.length;
          throw new CliError(
            `${file} not deployed: ${count} ${
              count === 1 ? "issue" : "issues"
            }`,
            { cause: error },
          );
        }
        throw error;
      }
    });
}
