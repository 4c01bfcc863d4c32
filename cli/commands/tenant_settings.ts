import type { Command } from "commander";
import type { TenantSettingsPatch } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";
import { formatDateTime } from "../output.ts";
import { parseSettingValue, tenantStorageFields } from "./_storage_view.ts";

/** The flags of `jobico tenant set`: flag, section, member, whether a size. */
const FLAGS = [
  ["--retention-days", "retention", "days", false],
  ["--retention-executions", "retention", "executions", false],
  ["--retention-versions", "retention", "versions", false],
  ["--quota-files", "quotas", "files", false],
  ["--quota-bytes", "quotas", "bytes", true],
  ["--max-concurrency", "quotas", "maxConcurrency", false],
] as const;

const camel = (flag: string) =>
  flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * `jobico tenant show <id>` and `jobico tenant set <id> --retention-days ...`:
 * a tenant's retention, quotas and usage, and its own settings (admin).
 */
export function tenantSettingsCommands(group: Command, ctx: CliContext): void {
  group.command("show")
    .description("Show a tenant: its retention, quotas and what it stores")
    .argument("<id>", "the tenant id")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico tenant show demo
  jobico tenant show demo --json`,
    )
    .action(async (id: string, options: { json?: boolean }, cmd: Command) => {
      const t = await ctx.client(cmd).getTenant(id);
      if (options.json) return ctx.out.json(t);
      ctx.out.fields([
        ["tenant", t.id],
        ["created", t.createdAt ? formatDateTime(t.createdAt) : "-"],
        [
          "token",
          t.hasToken && t.tokenCreatedAt
            ? `since ${formatDateTime(t.tokenCreatedAt)}`
            : "none",
        ],
        ...tenantStorageFields(t),
      ]);
    });

  const set = group.command("set")
    .description(
      "Set a tenant's retention and quotas (admin); 'default' gives one back to the platform's",
    )
    .argument("<id>", "the tenant id");
  set.option(
    "--retention-days <days>",
    "executions older than this go; 0 keeps them whatever their age",
  )
    .option(
      "--retention-executions <n>",
      "only the newest n executions stay; 0 for no limit",
    )
    .option(
      "--retention-versions <n>",
      "versions kept of each package, besides those queued events use (at least 1)",
    )
    .option("--quota-files <n>", "files the tenant may have")
    .option(
      "--quota-bytes <size>",
      "bytes the tenant may store: 1073741824, 512MiB, 2GiB",
    )
    .option(
      "--max-concurrency <n>",
      "executions of the tenant at once, across every process; 0 for no limit",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Each value may be 'default': the tenant follows the platform's setting again.

Examples:
  jobico tenant set demo --retention-days 30 --retention-versions 5
  jobico tenant set demo --quota-files 100 --quota-bytes 256MiB
  jobico tenant set demo --max-concurrency 10
  jobico tenant set demo --retention-days default --quota-bytes default`,
    )
    .action(
      async (
        id: string,
        options: Record<string, string | boolean | undefined>,
        cmd: Command,
      ) => {
        const patch: Record<string, Record<string, number | null>> = {};
        for (const [flag, section, member, size] of FLAGS) {
          const text = options[camel(flag)];
          if (typeof text !== "string") continue;
          (patch[section] ??= {})[member] = parseSettingValue(flag, text, size);
        }
        if (Object.keys(patch).length === 0) {
          throw new UsageError(
            `Name at least one setting: ${FLAGS.map(([f]) => f).join(", ")}`,
            { hint: 'Run "jobico tenant set --help"' },
          );
        }
        const t = await ctx.client(cmd).setTenantSettings(
          id,
          patch as TenantSettingsPatch,
        );
        if (options.json) return ctx.out.json(t);
        ctx.out.fields([["tenant", t.id], ...tenantStorageFields(t)]);
      },
    );
}
