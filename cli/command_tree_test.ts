/** Rules every command of the tree keeps, checked on the tree itself. */
import assert from "node:assert/strict";
import type { Command } from "commander";
import { captureIo } from "./_capture_io.ts";
import { CliContext } from "./cli_context.ts";
import { createProgram } from "./main.ts";
import { commandPath } from "./report_error.ts";

/** Commands that print no data, so have no --json. */
const NO_JSON = [
  "serve", // runs the platform
  "dashboard", // takes the terminal
  "completion", // prints a shell script
  "config set",
  "config unset",
  "config use",
];

function leaves(command: Command): Command[] {
  return command.commands.length ? command.commands.flatMap(leaves) : [command];
}

const program = createProgram(new CliContext(captureIo()));

Deno.test("every command that prints data takes --json", () => {
  const missing = leaves(program)
    .filter((c) => !c.options.some((o) => o.long === "--json"))
    .map(commandPath)
    .filter((p) => !NO_JSON.includes(p));
  assert.deepEqual(missing, []);
});

Deno.test("every command has a description", () => {
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  const bare = all(program).filter((c) => !c.description()).map(commandPath);
  assert.deepEqual(bare, []);
});

Deno.test("the seed's command names are there", () => {
  for (
    const name of [
      "deploy",
      "redeploy",
      "rollback",
      "upload-wasm",
      "upload-schema",
      "stream-from-recorder",
    ]
  ) {
    assert.ok(program.commands.some((c) => c.name() === name), name);
  }
});
