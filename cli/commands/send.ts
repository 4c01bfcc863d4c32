import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";

/**
 * `jobico send <tenant> <event> <json...> [--sign <secret>]`: posts items to
 * the listener, signing the body with the webhook secret when one is given.
 */
export function sendCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("send")
    .description("Send event items (one JSON value per argument)")
    .argument("<tenant>", "the tenant")
    .argument("<event>", "the event id")
    .argument("<json...>", `the items, e.g. '{"name":"Ada"}'`)
    .option(
      "--sign <secret>",
      "sign the body with the tenant's webhook secret, for events with " +
        "auth: hmac (env: JOBICO_WEBHOOK_SECRET)",
    )
    .option(
      "--delay <time>",
      "run the items this long from now: 30s, 5m, 2h, 1d, 1500ms (bare: seconds)",
    )
    .option(
      "--run-at <time>",
      "run the items at this RFC 3339 time, e.g. 2026-12-24T18:00:00Z",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Delayed items (--delay, --run-at) wait durably; list them with
"jobico events delayed" and cancel them with "jobico events cancel".

For events declared with auth: hmac, --sign takes the tenant's webhook
secret (jobico tenant webhook-secret <tenant>).

Examples:
  jobico send demo greet '{"name":"Ada"}'
  jobico send demo greet '{"name":"Ada"}' '{"name":"Grace"}' --json
  jobico send demo greet '{"name":"Ada"}' --delay 5m`,
    )
    .action(
      async (
        tenant: string,
        event: string,
        items: string[],
        options: {
          json?: boolean;
          sign?: string;
          delay?: string;
          runAt?: string;
        },
        command: Command,
      ) => {
        if (options.sign === "") {
          throw new UsageError("The webhook secret of --sign is empty", {
            hint: `Print it with "jobico tenant webhook-secret ${tenant}"`,
          });
        }
        const data = items.map(parseItem);
        const sign = options.sign ?? ctx.io.env.JOBICO_WEBHOOK_SECRET;
        if (options.delay !== undefined && options.runAt !== undefined) {
          throw new UsageError("Pass either --delay or --run-at, not both", {
            hint: "--delay counts from now; --run-at names the time",
          });
        }
        const res = await ctx.client(command).sendEvents(tenant, event, data, {
          sign: sign || undefined,
          delay: options.delay,
          runAt: options.runAt,
        });
        if (options.json) return ctx.out.json(res);
        ctx.out.line(
          `Accepted ${res.accepted} ${res.accepted === 1 ? "item" : "items"}` +
            ` for ${tenant}/${event}` +
            (res.runAt ? `, to run ${res.runAt}` : ""),
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
