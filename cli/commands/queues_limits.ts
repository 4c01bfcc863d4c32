import type { Command } from "commander";
import type { QueueLimits } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";

/** `jobico queues limits <tenant> <queue>`: its events' limits and their use now. */
export function queuesLimitsCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("limits")
    .description(
      "Show the concurrency, rate limits and debounce of a queue's events, and their use now across every process",
    )
    .argument("<tenant>", "the tenant")
    .argument("<queue>", "the queue id")
    .option("--json", "print the limits as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico queues limits demo greetings
  jobico queues limits demo greetings --json`,
    )
    .action(
      async (
        tenant: string,
        queue: string,
        options: { json?: boolean },
        command: Command,
      ) => {
        const limits = await ctx.client(command).queueLimits(tenant, queue);
        if (options.json) return ctx.out.json(limits);
        for (const line of limitLines(limits)) ctx.out.line(line);
      },
    );
}

const keyName = (k: string | null) => k === null ? "(no key)" : k;

/** The lines `jobico queues limits` prints. */
export function limitLines(l: QueueLimits): string[] {
  const out = [
    l.tenant.limit === 0
      ? "Tenant: no limit of executions at once"
      : `Tenant: ${l.tenant.held} of ${l.tenant.limit} running`,
  ];
  for (const r of l.runtimes) {
    out.push(
      `Runtime ${r.package}/${r.runtime}: ${r.held} of ${r.limit} running`,
    );
  }
  if (l.events.length === 0) {
    out.push(`No event of queue ${l.queue} has a flow limit`);
  }
  for (const e of l.events) {
    out.push(`Event ${e.event} (${e.package} v${e.version}):`);
    const c = e.concurrency;
    if (c) {
      out.push(
        `  concurrency ${c.limit}${
          c.key ? ` per ${c.key}` : ""
        }: ${c.inUse.length}${c.truncated ? "+" : ""} keys running`,
      );
      for (const u of c.inUse) {
        out.push(`    ${keyName(u.key)}  ${u.held} of ${c.limit}`);
      }
    }
    const r = e.rateLimit;
    if (r) {
      out.push(
        `  rate limit ${r.limit} per ${r.period}${
          r.key ? ` per ${r.key}` : ""
        } (${r.mode}): ${r.windows.length}${
          r.truncated ? "+" : ""
        } windows open`,
      );
      for (const w of r.windows) {
        out.push(
          `    ${keyName(w.key)}  ${w.used} of ${r.limit} until ${
            formatDateTime(w.until)
          }`,
        );
      }
    }
    const d = e.debounce;
    if (d) {
      out.push(
        `  debounce ${d.period}${
          d.key ? ` per ${d.key}` : ""
        } (keep ${d.keep}): ${d.pending.length}${
          d.truncated ? "+" : ""
        } waiting`,
      );
      for (const p of d.pending) {
        out.push(
          `    ${keyName(p.key)}  ${p.id} runs ${formatDateTime(p.runAt)}`,
        );
      }
    }
  }
  return out;
}
