import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { CliError } from "../cli_error.ts";

/** `jobico status`: the platform's health and components. */
export function statusCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("status")
    .description("Show whether the platform is up, its version and components")
    .option("--json", "print health and meta as JSON")
    .action(async (options: { json?: boolean }, command: Command) => {
      const client = ctx.client(command);
      const health = await client.health();
      const meta = await client.meta();
      const status = String(health.status ?? "unknown");
      const failing = new CliError(
        `The platform at ${client.url} is ${status}`,
      );
      if (options.json) {
        ctx.out.json({ url: client.url, health, meta });
        if (status !== "ok") throw failing;
        return;
      }
      const colors = ctx.out.colors;
      const components = Array.isArray(meta.components) ? meta.components : [];
      ctx.out.fields([
        ["url", client.url],
        [
          "status",
          status === "ok" ? colors.green(status) : colors.yellow(status),
        ],
        ["name", String(meta.name ?? "")],
        ["version", String(meta.version ?? "")],
        ["components", components.map(componentName).join(", ")],
        ...Object.keys(health.checks ?? {}).length > 0
          ? [["checks", formatChecks(health.checks ?? {})] as [string, string]]
          : [],
      ]);
      if (status !== "ok") throw failing;
    });
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
    const name = String(c.name ?? c.id ?? JSON.stringify(c));
    return typeof c.status === "string" && c.status !== "ok"
      ? `${name} (${c.status})`
      : name;
  }
  return String(component);
}
