import type { Command } from "commander";
import type { ScheduleList } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import { formatDateTime } from "../output.ts";

/** `jobico schedules <tenant>`: each scheduled event, its next tick and the last sent. */
export function schedulesCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("schedules")
    .description(
      "Show a tenant's scheduled events: cron, time zone, the next tick and the last one sent",
    )
    .argument("<tenant>", "the tenant")
    .option("--json", "print the schedules as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico schedules demo
  jobico schedules demo --json`,
    )
    .action(
      async (tenant: string, options: { json?: boolean }, command: Command) => {
        const list = await ctx.client(command).listSchedules(tenant);
        if (options.json) return ctx.out.json(list);
        for (const line of scheduleLines(list)) ctx.out.line(line);
      },
    );
}

/** The lines `jobico schedules` prints (and the dashboard shows). */
export function scheduleLines(l: ScheduleList): string[] {
  if (l.schedules.length === 0) return ["No scheduled event"];
  return l.schedules.flatMap((s) => [
    `Event ${s.event} (${s.package} v${s.version}) -> queue ${s.queue}: ${s.cron} (${s.timezone})`,
    `  next  ${
      s.next === null ? "none, it fires no more" : formatDateTime(s.next)
    }`,
    `  last  ${
      s.lastTick === null
        ? "none yet"
        : `${formatDateTime(s.lastTick)}${
          s.lastSent ? " sent" : " skipped (queue full)"
        }`
    }`,
  ]);
}
