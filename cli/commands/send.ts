import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";

/** `jobico send <tenant> <event> <json...>`: posts items to the listener. */
export function sendCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("send")
    .description("Send event items (one JSON value per argument)")
    .argument("<tenant>", "the tenant")
    .argument("<event>", "the event id")
    .argument("<json...>", `the items, e.g. '{"name":"Ada"}'`)
    .option("--json", "print the result as JSON")
    .action(
      async (
        tenant: string,
        event: string,
        items: string[],
        options: { json?: boolean },
        command: Command,
      ) => {
        const data = items.map(parseItem);
        const res = await ctx.client(command).sendEvents(tenant, event, data);
        if (options.json) return ctx.out.json(res);
        ctx.out.line(
          `Accepted ${res.accepted} ${res.accepted === 1 ? "item" : "items"}` +
            ` for ${tenant}/${event}`,
        );
        for (const id of res.ids ?? []) ctx.out.line(id);
      },
    );
}

function parseItem(text: string, index: number): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const shown = text.length > 40 ? text.slice(0, 39) + "…" : text;
    throw new UsageError(
      `Item ${index + 1} is not valid JSON: '${shown}' (${reason})`,
      { hint: `Quote each item for the shell, e.g. '{"name":"Ada"}'` },
    );
  }
}
