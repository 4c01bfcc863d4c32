import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { confirmDelete } from "./_confirm.ts";
import { tenantSettingsCommands } from "./tenant_settings.ts";

/**
 * `jobico tenant create|list|show|set|delete|rotate-token|webhook-secret`:
 * tenants, their credentials, retention and quotas. Creating, listing all,
 * setting and deleting need the admin token; a tenant token may show
 * itself, rotate its own token and read its secret.
 */
export function tenantCommand(parent: Command, ctx: CliContext): Command {
  const group = parent.command("tenant")
    .alias("tenants")
    .description(
      "Create, list, show and delete tenants; set their retention and quotas; rotate their credentials",
    )
    .addHelpText(
      "after",
      `
Creating, listing all and deleting need the admin token; a tenant's token may
list itself, rotate its own token and read its webhook secret.

Examples:
  jobico tenant create acme
  jobico tenant list
  jobico tenant show acme
  jobico tenant set acme --retention-days 30 --quota-bytes 256MiB
  jobico tenant rotate-token acme
  jobico tenant webhook-secret acme --rotate
  jobico tenant delete acme --yes

Deleting (tenant delete, packages delete, files delete, queues purge) asks
first on a terminal; without one it needs --yes.`,
    );

  group.command("create")
    .description("Create a tenant and print its token (shown only once)")
    .argument("<id>", "the tenant id: letters, digits, '.', '_', '-'")
    .option("--json", "print the result as JSON")
    .action(async (id: string, options: { json?: boolean }, cmd: Command) => {
      const res = await ctx.client(cmd).createTenant(id);
      if (options.json) return ctx.out.json(res);
      ctx.out.line(`Created tenant ${res.id}`);
      ctx.out.line(`token  ${res.token}`);
      ctx.err.line(
        ctx.err.colors.dim(
          "Keep the token now: it is stored hashed and cannot be shown again " +
            `(make a new one with: jobico tenant rotate-token ${res.id})`,
        ),
      );
    });

  group.command("list")
    .alias("ls")
    .description("List tenants (a tenant token sees only its own)")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const tenants = await ctx.client(cmd).listTenants();
      if (options.json) return ctx.out.json({ tenants });
      if (tenants.length === 0) return ctx.out.line("No tenants");
      ctx.out.table(
        ["ID", "CREATED", "TOKEN"],
        tenants.map((t) => [
          t.id,
          t.createdAt ? t.createdAt.replace("T", " ").slice(0, 19) : "-",
          t.hasToken
            ? `since ${t.tokenCreatedAt?.replace("T", " ").slice(0, 19)}`
            : ctx.out.colors.yellow("none"),
        ]),
      );
    });

  tenantSettingsCommands(group, ctx);

  group.command("delete")
    .alias("rm")
    .description(
      "Delete a tenant and everything of it: packages, files, queues, executions (asks first)",
    )
    .argument("<id>", "the tenant id")
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .option("--json", "print the result as JSON")
    .action(
      async (
        id: string,
        options: { json?: boolean; yes?: boolean },
        cmd: Command,
      ) => {
        await confirmDelete(ctx, options.yes, {
          what: `tenant ${id} and everything of it`,
          check: `Check it with "jobico tenant show ${id}"`,
        });
        await ctx.client(cmd).deleteTenant(id);
        if (options.json) return ctx.out.json({ id, deleted: true });
        ctx.out.line(`Deleted tenant ${id}`);
      },
    );

  group.command("rotate-token")
    .description("Make a new token for a tenant; the old one stops working")
    .argument("<id>", "the tenant id")
    .option("--json", "print the result as JSON")
    .action(async (id: string, options: { json?: boolean }, cmd: Command) => {
      const res = await ctx.client(cmd).rotateToken(id);
      if (options.json) return ctx.out.json(res);
      ctx.out.line(`New token for tenant ${res.id}`);
      ctx.out.line(`token  ${res.token}`);
    });

  group.command("webhook-secret")
    .description(
      "Print the secret that signs the tenant's auth: hmac events; --rotate makes a new one",
    )
    .argument("<id>", "the tenant id")
    .option(
      "--rotate",
      "make a new secret; the previous one stays valid for 24 hours",
    )
    .option("--json", "print the result as JSON")
    .action(
      async (
        id: string,
        options: { json?: boolean; rotate?: boolean },
        cmd: Command,
      ) => {
        const res = await ctx.client(cmd).webhookSecret(id, options.rotate);
        if (options.json) return ctx.out.json(res);
        ctx.out.line(res.secret);
        if (res.previous) {
          ctx.err.line(
            ctx.err.colors.dim(
              `The previous secret is accepted until ${res.previous.validUntil}`,
            ),
          );
        }
      },
    );
  return group;
}
