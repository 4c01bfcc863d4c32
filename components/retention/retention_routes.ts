/**
 * `GET /api/v1/retention` (admin): the platform's default retention and
 * quotas, and what the retention sweeper did last.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { json, problems, ref } from "../openapi/schemas.ts";
import { assertAdmin, type AuthVariables } from "../http/principal.ts";
import type { TenantPolicies } from "../tenants/tenant_policies.ts";
import { type RetentionSweeper, sweeperStatus } from "./retention_sweeper.ts";

export function retentionApp(
  options: {
    kv: Deno.Kv;
    policies: TenantPolicies;
    /** The sweeper of this process; absent where it does not run. */
    sweeper?: RetentionSweeper;
  },
): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.get("/api/v1/retention", DOCS.show, async (c) => {
    assertAdmin(c.get("principal"), "read the retention status");
    const { retention, quotas } = options.policies.defaults;
    return c.json({
      retention,
      quotas,
      sweeper: await sweeperStatus(options.kv, options.sweeper),
    });
  });
  return app;
}

const DOCS = {
  show: describeRoute({
    operationId: "getRetention",
    tags: ["tenants"],
    summary: "The default retention and quotas, and the sweeper (admin)",
    description:
      "What every tenant keeps and may store unless it has its own " +
      "settings, and the retention sweeper's last pass that removed " +
      "something (whichever process ran it), its totals and who holds its " +
      "lease; `intervalMs` and `checked` (its last pass, even one that " +
      "removed nothing) are this process's, null where it does not sweep.",
    responses: {
      200: json("The defaults and the sweeper", ref("Retention")),
      ...problems(401, [403, "Only the admin reads it"]),
    },
  }),
};
