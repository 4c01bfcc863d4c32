import type { Command } from "commander";

/** The headings of `jobico --help`, and the commands under each, in order. */
export const HELP_GROUPS: [heading: string, commands: string[]][] = [
  ["Files and packages:", [
    "upload-wasm",
    "upload-schema",
    "deploy",
    "redeploy",
    "rollback",
    "packages",
    "files",
  ]],
  ["Events and executions:", [
    "send",
    "events",
    "executions",
    "stream-from-recorder",
    "queues",
    "schedules",
  ]],
  ["Platform:", ["status", "dashboard", "tenant", "serve"]],
  ["Setup:", ["config", "completion", "help"]],
];

/**
 * Puts the program's commands under the headings of {@linkcode HELP_GROUPS}
 * and orders them so; a command no group names stays last, under `Other:`.
 * Command groups (`packages`, `queues`...) get a `help` command of their
 * own, listed under their `Commands:` rather than the program's `Setup:`.
 */
export function groupCommands(program: Command): void {
  const order = HELP_GROUPS.flatMap(([, names]) => names);
  const rank = (c: Command) => {
    const i = order.indexOf(c.name());
    return i === -1 ? order.length : i;
  };
  const commands = program.commands as Command[];
  commands.sort((a, b) => rank(a) - rank(b));
  for (const command of commands) {
    const group = HELP_GROUPS.find(([, names]) =>
      names.includes(command.name())
    );
    command.helpGroup(group?.[0] ?? "Other:");
  }
  const ownHelp = (parent: Command) => {
    for (const command of parent.commands) {
      if (command.commands.length === 0) continue;
      command.helpCommand("help [command]", "print help for a command");
      ownHelp(command);
    }
  };
  ownHelp(program);
}
