/**
 * The tenant API under /api/v1: create, list, show and delete tenants,
 * rotate a tenant's token, read and rotate its webhook secret, and
 * `whoami`. Creating, listing all and deleting need the admin token; a
 * tenant token reaches only its own tenant (the guard in platform.ts).
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { HttpError, ValidationError } from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import { json, PATH, problems, ref } from "../openapi/schemas.ts";
import { assertAdmin, type AuthVariables } from "../principal.ts";
import { readBody } from "../read_body.ts";
import type { TenantStore } from "./tenant_store.ts";

export interface TenantRoutesOptions {
  tenants: TenantStore;
  /** Deletes a tenant and everything of it (see `deleteTenant`). */
  remove: (tenant: string) => Promise<void>;
}

export function tenantApp(
  options: TenantRoutesOptions,
): Hono<{ Variables: AuthVariables }> {
  const { tenants } = options;
  const app = new Hono<{ Variables: AuthVariables }>();

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
      body = JSON.parse(await readBody(c.req.raw, 4096, "Tenant body"));
    } catch (err) {
      // A ValidationError (not UTF-8) or a PayloadTooLargeError (413) as is.
      if (err instanceof HttpError) throw err;
      throw new ValidationError('Tenant body must be JSON like {"id": "acme"}');
    }
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== "string") {
      throw new ValidationError(
        'Tenant body must have a string "id", like {"id": "acme"}',
      );
    }
    return c.json(await tenants.create(checkName("tenant", id)), 201);
  });

  app.get("/api/v1/tenants", DOCS.list, async (c) => {
    const p = c.get("principal");
    const list = p.kind === "admin"
      ? await tenants.list()
      : [await tenants.get(p.tenant)];
    return c.json({ tenants: list });
  });

  app.get("/api/v1/tenants/:tenant", DOCS.show, async (c) => {
    return c.json(
      await tenants.get(checkName("tenant", c.req.param("tenant"))),
    );
  });

  app.delete("/api/v1/tenants/:tenant", DOCS.remove, async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    assertAdmin(c.get("principal"), "delete tenants");
    await options.remove(id);
    return c.body(null, 204);
  });

  app.post("/api/v1/tenants/:tenant/token", DOCS.rotateToken, async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    return c.json(await tenants.rotateToken(id), 201);
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
      "body is at most 4 KiB.",
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
    parameters: [PATH.tenant],
    responses: {
      200: json("The tenant (never its token)", ref("Tenant")),
      ...problems(400, 401, 403, [404, "No such tenant"]),
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
