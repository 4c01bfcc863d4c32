/**
 * The tenant API under /api/v1: create, list, show and delete tenants,
 * rotate a tenant's token, read and rotate its webhook secret, set its
 * retention and quotas, and `whoami`. Creating, listing all, deleting and
 * changing settings need the admin token; a tenant token reaches only its
 * own tenant (the guard in platform.ts).
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { DomainError, ValidationError } from "@jobico/goico";
import { API_LIMITS, kib, NewTenant } from "../../api/mod.ts";
import { ApiCheck } from "../http/api_check.ts";
import { checkName } from "../http/check_name.ts";
import { json, PATH, problems, ref } from "../openapi/schemas.ts";
import { assertAdmin, type AuthVariables } from "../http/principal.ts";
import { parseJsonBody } from "../http/parse_json_body.ts";
import { readBody } from "../http/read_body.ts";
import type { TenantStorage } from "../retention/tenant_storage.ts";
import { parseSettingsPatch } from "./tenant_policy.ts";
import type { TenantInfo, TenantStore } from "./tenant_store.ts";

export interface TenantRoutesOptions {
  tenants: TenantStore;
  /** Deletes a tenant and everything of it (see `deleteTenant`). */
  remove: (tenant: string) => Promise<void>;
  /** Each tenant's retention, quotas and usage. Default: not shown, not settable. */
  storage?: TenantStorage;
  /**
   * Told once a tenant's token was rotated or the tenant deleted, so that
   * what outlives a request (live streams) stops at once in this process.
   */
  accessChanged?: (tenant: string) => Promise<void>;
}

export function tenantApp(
  options: TenantRoutesOptions,
): Hono<{ Variables: AuthVariables }> {
  const { tenants, storage } = options;
  const app = new Hono<{ Variables: AuthVariables }>();
  const newTenant = new ApiCheck(NewTenant);
  const withStorage = async (t: TenantInfo) =>
    storage ? { ...t, ...await storage.describe(t.id) } : t;

  app.get("/api/v1/whoami", DOCS.whoami, (c) => {
    const p = c.get("principal");
    return c.json(
      p.kind === "admin"
        ? { principal: "admin" }
        : { principal: "tenant", tenant: p.tenant },
    );
  });

  app.post("/api/v1/tenants", DOCS.create, async (c) => {
    assertAdmin(c.get("principal"), "create tenants");
    let body: unknown;
    try {
      body = JSON.parse(
        await readBody(c.req.raw, API_LIMITS.smallBodyBytes, "Tenant body"),
      );
    } catch (err) {
      // A ValidationError (not UTF-8) or a TooLargeError (413) as is.
      if (err instanceof DomainError) throw err;
      throw new ValidationError(
        'Tenant body must be JSON like {"id": "acme"}',
        {},
        { cause: err },
      );
    }
    const issue = newTenant.issue(body);
    if (issue?.keyword === "pattern") {
      checkName("tenant", issue.value as string);
    }
    if (issue) {
      throw new ValidationError(
        'Tenant body must have a string "id", like {"id": "acme"}',
      );
    }
    return c.json(await tenants.create((body as NewTenant).id), 201);
  });

  app.get("/api/v1/tenants", DOCS.list, async (c) => {
    const p = c.get("principal");
    const list = p.kind === "admin"
      ? await tenants.list()
      : [await tenants.get(p.tenant)];
    return c.json({ tenants: await Promise.all(list.map(withStorage)) });
  });

  app.get("/api/v1/tenants/:tenant", DOCS.show, async (c) => {
    return c.json(
      await withStorage(
        await tenants.get(checkName("tenant", c.req.param("tenant"))),
      ),
    );
  });

  if (storage) {
    app.patch("/api/v1/tenants/:tenant", DOCS.settings, async (c) => {
      const id = checkName("tenant", c.req.param("tenant"));
      assertAdmin(c.get("principal"), "change a tenant's retention and quotas");
      const patch = parseSettingsPatch(
        parseJsonBody(
          await readBody(
            c.req.raw,
            API_LIMITS.smallBodyBytes,
            "Tenant settings",
          ),
          "Tenant settings",
        ),
      );
      const info = await tenants.get(id);
      return c.json({ ...info, ...await storage.update(id, patch) });
    });
  }

  app.delete("/api/v1/tenants/:tenant", DOCS.remove, async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    assertAdmin(c.get("principal"), "delete tenants");
    await options.remove(id);
    await options.accessChanged?.(id);
    return c.body(null, 204);
  });

  app.post("/api/v1/tenants/:tenant/token", DOCS.rotateToken, async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    const rotated = await tenants.rotateToken(id);
    await options.accessChanged?.(id);
    return c.json(rotated, 201);
  });

  app.get("/api/v1/tenants/:tenant/webhook-secret", DOCS.secret, async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    return c.json(await tenants.webhookSecrets(id));
  });

  app.post(
    "/api/v1/tenants/:tenant/webhook-secret",
    DOCS.rotateSecret,
    async (c) => {
      const id = checkName("tenant", c.req.param("tenant"));
      return c.json(await tenants.rotateWebhookSecret(id), 201);
    },
  );
  return app;
}

/** The API description of each route (components/openapi). */
const DOCS = {
  whoami: describeRoute({
    operationId: "whoami",
    tags: ["tenants"],
    summary: "Who the token is",
    responses: {
      200: json("The admin, or a tenant", ref("Whoami")),
      ...problems(401),
    },
  }),
  create: describeRoute({
    operationId: "createTenant",
    tags: ["tenants"],
    summary: "Create a tenant (admin)",
    description:
      "Answers the tenant's first token, which is shown only here. The " +
      `body is at most ${kib(API_LIMITS.smallBodyBytes)}.`,
    requestBody: {
      required: true,
      content: { "application/json": { schema: ref("NewTenant") } },
    },
    responses: {
      201: json("Created, with its token", ref("TenantToken")),
      ...problems(
        [400, 'A body that is not {"id": "<name>"}, or a bad name'],
        401,
        [403, "Only the admin creates tenants"],
        [409, "The tenant exists"],
        413,
      ),
    },
  }),
  list: describeRoute({
    operationId: "listTenants",
    tags: ["tenants"],
    summary: "List tenants",
    description: "The admin sees every tenant; a tenant's token only its own.",
    responses: {
      200: json("The tenants", ref("TenantList")),
      ...problems(401),
    },
  }),
  show: describeRoute({
    operationId: "getTenant",
    tags: ["tenants"],
    summary: "Show a tenant",
    description: "With its retention and quotas (its own settings over the " +
      "platform's) and what it stores and keeps.",
    parameters: [PATH.tenant],
    responses: {
      200: json("The tenant (never its token)", ref("Tenant")),
      ...problems(400, 401, 403, [404, "No such tenant"]),
    },
  }),
  settings: describeRoute({
    operationId: "setTenantSettings",
    tags: ["tenants"],
    summary: "Set a tenant's retention and quotas (admin)",
    description:
      "Each member given is set; null gives it back to the platform's " +
      "default; members left out stay. The body is at most " +
      `${kib(API_LIMITS.smallBodyBytes)}.`,
    parameters: [PATH.tenant],
    requestBody: {
      required: true,
      content: { "application/json": { schema: ref("TenantSettings") } },
    },
    responses: {
      200: json("The tenant with its settings in force", ref("Tenant")),
      ...problems(
        [400, "Not JSON, an unknown setting, or a value out of its range"],
        401,
        [403, "Only the admin changes a tenant's settings"],
        [404, "No such tenant"],
        [409, "The tenant is changed concurrently"],
        413,
      ),
    },
  }),
  remove: describeRoute({
    operationId: "deleteTenant",
    tags: ["tenants"],
    summary: "Delete a tenant and everything of it (admin)",
    description:
      "Its token stops working at once; its queues, packages, files, " +
      "executions and the blobs no other tenant uses go.",
    parameters: [PATH.tenant],
    responses: {
      204: { description: "Deleted" },
      ...problems(
        400,
        401,
        [403, "Only the admin deletes tenants"],
        [404, "No such tenant"],
        [409, "The tenant is changed concurrently"],
      ),
    },
  }),
  rotateToken: describeRoute({
    operationId: "rotateTenantToken",
    tags: ["tenants"],
    summary: "Make a tenant a new token",
    description: "The old token stops working at once.",
    parameters: [PATH.tenant],
    responses: {
      201: json("The new token, shown only here", ref("TenantToken")),
      ...problems(
        400,
        401,
        403,
        [404, "No such tenant"],
        [409, "The tenant is changed concurrently"],
      ),
    },
  }),
  secret: describeRoute({
    operationId: "getWebhookSecret",
    tags: ["tenants"],
    summary: "Show a tenant's webhook secret",
    description:
      "What `Jobico-Signature` is made with, and the previous secret while " +
      "it is still accepted after a rotation.",
    parameters: [PATH.tenant],
    responses: {
      200: json("The secrets", ref("WebhookSecrets")),
      ...problems(
        400,
        401,
        403,
        [404, "No such tenant"],
        [409, "The tenant is changed concurrently"],
      ),
    },
  }),
  rotateSecret: describeRoute({
    operationId: "rotateWebhookSecret",
    tags: ["tenants"],
    summary: "Make a tenant a new webhook secret",
    description: "The previous secret stays valid for 24 hours.",
    parameters: [PATH.tenant],
    responses: {
      201: json("The new secret and the previous one", ref("WebhookSecrets")),
      ...problems(
        400,
        401,
        403,
        [404, "No such tenant"],
        [409, "The tenant is changed concurrently"],
      ),
    },
  }),
};
