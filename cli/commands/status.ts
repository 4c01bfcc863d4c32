import type { Command } from "commander";
import { COMPONENTS } from "../../components/platform.ts";
import type {
  Health,
  Meta,
  RetentionStatus,
  TenantInfo,
} from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import { CliError, UsageError } from "../cli_error.ts";
import { JobicoClient } from "../client.ts";
import { formatDuration, type Palette } from "../output.ts";
import {
  retentionFields,
  TENANT_USAGE_HEADER,
  tenantUsageRow,
} from "./_storage_view.ts";

/** Tenants shown in the usage table at most (`jobico tenant show` for the rest). */
const MAX_TENANT_ROWS = 50;

/** Retention, quotas and usage, as far as the token may see them. */
export interface StorageStatus {
  /** The platform's defaults and its sweeper (admin token only). */
  retention?: RetentionStatus;
  /** Each tenant the token may see, with its policy and usage. */
  tenants?: TenantInfo[];
}

/** One process as `status` saw it. */
export interface ProcessStatus {
  url: string;
  /** `ok`, `failing` (its health check failed) or `unreachable`. */
  status: string;
  health?: Health;
  meta?: Meta;
  /** Why it is unreachable. */
  error?: string;
}

/** One component across the processes checked. */
export interface ComponentStatus {
  name: string;
  /** The worst status of the processes that run it; `absent` when none does. */
  status: string;
  urls: string[];
}

/**
 * `jobico status [url...]`: the health of the platform and each of its
 * components. A platform split over processes (`jobico serve --components`)
 * is checked by naming each process's URL.
 */
export function statusCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("status")
    .description("Show the health of the platform and of each component")
    .argument(
      "[url...]",
      "the processes to check, when the platform runs in several (default: the platform URL)",
    )
    .option("--json", "print every process's health and meta as JSON")
    .addHelpText(
      "after",
      `
Exits 1 when a process is failing or cannot be reached.

Examples:
  jobico status
  jobico status --json
  jobico status http://127.0.0.1:8080 http://127.0.0.1:8081

With a token it also shows the retention and quotas, what the retention
sweeper did last (admin token) and what each tenant stores.`,
    )
    .action(
      async (urls: string[], options: { json?: boolean }, command: Command) => {
        const main = ctx.client(command);
        const clients = [main, ...urls.map((u) => otherClient(main, u))]
          .filter((c, i, all) => all.findIndex((o) => o.url === c.url) === i);
        const processes = await Promise.all(clients.map(check));
        if (processes.every((p) => p.status === "unreachable")) {
          // Nothing to show: say why the first one cannot be reached.
          await main.health();
        }
        const components = componentStatus(processes);
        const failed = processes.filter((p) => p.status !== "ok");
        const status = failed.length ? "failing" : "ok";
        const storage = ctx.settings(command).token && processes[0].meta
          ? await storageStatus(main)
          : undefined;
        if (options.json) {
          const first = processes[0];
          ctx.out.json({
            status,
            url: first.url,
            health: first.health,
            meta: first.meta,
            components,
            processes,
            ...(storage && { storage }),
          });
        } else {
          printStatus(ctx, processes, components);
          if (storage) printStorage(ctx, storage);
        }
        if (failed.length) {
          throw new CliError(
            failed.map((p) =>
              `The platform at ${p.url} is ${p.status}` +
              (p.error ? ` (${p.error})` : "")
            ).join("; "),
            {
              hint: failed.some((p) => p.status === "unreachable")
                ? "Is every process running? Start them with: jobico serve"
                : "Its log on stderr says why the check fails",
            },
          );
        }
      },
    );
}

function otherClient(main: JobicoClient, url: string): JobicoClient {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") {
    throw new UsageError(`Invalid process URL "${url}"`, {
      hint: "Pass URLs like http://127.0.0.1:8081",
    });
  }
  // /healthz needs no token; /meta tells what a process runs only with one.
  return main.at(url);
}

async function check(client: JobicoClient): Promise<ProcessStatus> {
  try {
    const [health, meta] = await Promise.all([client.health(), client.meta()]);
    return {
      url: client.url,
      status: String(health.status ?? "unknown"),
      health,
      meta,
    };
  } catch (error) {
    return {
      url: client.url,
      status: "unreachable",
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Each known component with the processes that run it. */
export function componentStatus(
  processes: ProcessStatus[],
): ComponentStatus[] {
  const names = new Set<string>(COMPONENTS);
  for (const p of processes) {
    for (const c of p.meta?.components ?? []) names.add(componentName(c));
  }
  const rank = (s: string) => s === "ok" ? 0 : s === "unreachable" ? 2 : 1;
  return [...names].map((name) => {
    const runs = processes.filter((p) =>
      (p.meta?.components ?? []).some((c) => componentName(c) === name)
    );
    const worst = runs.map((p) => p.status)
      .sort((a, b) => rank(b) - rank(a))[0];
    return { name, status: worst ?? "absent", urls: runs.map((p) => p.url) };
  });
}

function printStatus(
  ctx: CliContext,
  processes: ProcessStatus[],
  components: ComponentStatus[],
): void {
  const c = ctx.out.colors;
  processes.forEach((p, i) => {
    if (i > 0) ctx.out.line();
    const meta = p.meta;
    const fields: [string, string][] = [
      ["url", p.url],
      ["status", paint(p.status, c)],
    ];
    if (p.error) fields.push(["error", p.error]);
    if (meta) {
      fields.push(["name", String(meta.name ?? "")]);
      fields.push(["version", String(meta.version ?? "")]);
      if (meta.instance) fields.push(["instance", meta.instance]);
      fields.push([
        "components",
        meta.components
          ? meta.components.map(componentName).join(", ")
          : "unknown: /meta tells them only with a token (--token)",
      ]);
    }
    const checks = p.health?.checks ?? {};
    if (Object.keys(checks).length > 0) {
      fields.push(["checks", formatChecks(checks)]);
    }
    if (meta?.sandbox) {
      fields.push([
        "sandbox",
        `${meta.sandbox.workers} workers, ${meta.sandbox.busy} busy`,
      ]);
    }
    const definitions = formatDefinitions(meta);
    if (definitions) fields.push(["definitions", definitions]);
    if (meta?.limits) fields.push(["limits", formatLimits(meta.limits)]);
    ctx.out.fields(fields);
  });
  ctx.out.line();
  ctx.out.table(
    ["COMPONENT", "STATUS", "PROCESS"],
    components.map((k) => [
      k.name,
      k.status === "absent" ? c.dim("absent") : paint(k.status, c),
      k.urls.length ? k.urls.join(", ") : c.dim(
        processes.length > 1
          ? "not run by these processes"
          : "not run by this process (name the others: jobico status <url>...)",
      ),
    ]),
  );
}

/**
 * What the token may see of retention, quotas and usage; a part it may
 * not see (a tenant's token and the platform's defaults) is left out.
 */
async function storageStatus(client: JobicoClient): Promise<StorageStatus> {
  const [retention, tenants] = await Promise.all([
    client.retention().catch(() => undefined),
    client.listTenants().catch(() => undefined),
  ]);
  return {
    ...(retention && { retention }),
    ...(tenants && { tenants }),
  };
}

function printStorage(ctx: CliContext, storage: StorageStatus): void {
  if (storage.retention) {
    ctx.out.line();
    ctx.out.fields(retentionFields(storage.retention));
  }
  const tenants = storage.tenants?.filter((t) => t.usage) ?? [];
  if (tenants.length === 0) return;
  ctx.out.line();
  ctx.out.table(
    TENANT_USAGE_HEADER,
    tenants.slice(0, MAX_TENANT_ROWS).map(tenantUsageRow),
  );
  if (tenants.length > MAX_TENANT_ROWS) {
    ctx.out.line(
      ctx.out.colors.dim(
        `and ${
          tenants.length - MAX_TENANT_ROWS
        } more tenants: jobico tenant show <id>`,
      ),
    );
  }
}

function paint(status: string, c: Palette): string {
  return status === "ok"
    ? c.green(status)
    : status === "unreachable"
    ? c.red(status)
    : c.yellow(status);
}

function formatDefinitions(meta: Meta | undefined): string | undefined {
  if (!meta) return undefined;
  const { definitionsSeen: seen, definitionsLatest: latest } = meta;
  const generation = meta.definitionsGeneration;
  if (typeof seen === "number" && typeof latest === "number") {
    const state = seen >= latest
      ? "all loaded"
      : `${latest - seen} not loaded yet`;
    return `${latest} ${
      latest === 1 ? "change" : "changes"
    } deployed, ${state}`;
  }
  return typeof generation === "number"
    ? `${generation} changes seen`
    : undefined;
}

function formatLimits(limits: NonNullable<Meta["limits"]>): string {
  const parts: string[] = [];
  if (limits.timeoutMs !== undefined) {
    parts.push(`timeout ${formatDuration(limits.timeoutMs)}`);
  }
  if (limits.memoryMb !== undefined) {
    parts.push(`memory ${limits.memoryMb} MiB`);
  }
  if (limits.fuel !== undefined) {
    parts.push(`fuel ${limits.fuel.toLocaleString("en-US")}`);
  }
  if (limits.retries !== undefined) parts.push(`retries ${limits.retries}`);
  return parts.join(", ");
}

function formatChecks(checks: Record<string, unknown>): string {
  return Object.entries(checks).map(([name, value]) =>
    `${name}=${typeof value === "string" ? value : JSON.stringify(value)}`
  ).join(", ");
}

function componentName(component: unknown): string {
  if (typeof component === "string") return component;
  if (component && typeof component === "object") {
    const c = component as Record<string, unknown>;
    return String(c.name ?? c.id ?? JSON.stringify(c));
  }
  return String(component);
}
