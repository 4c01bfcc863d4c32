import { type Command, Option } from "commander";

/** Adds the execution filters (`--package`, `--event`, `--status`) that list and stream share. */
export function withExecutionFilters(command: Command): Command {
  return command
    .option("--package <id>", "only executions of this package")
    .option("--event <id>", "only executions of this event")
    .addOption(
      new Option("--status <status>", "only executions with this status")
        .choices(["ok", "error", "failed"]),
    );
}
