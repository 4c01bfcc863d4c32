/**
 * The tenant API under /api/v1: create, list, show and delete tenants,
 * rotate a tenant's token, read and rotate its webhook secret, and
 * `whoami`. Creating, listing all and deleting need the admin token; a
 * tenant token reaches only its own tenant (the guard in platform.ts).
 */
import { Hono } from "hono";
import { HttpError, ValidationError } from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
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

  app.get("/api/v1/whoami", (c) => {
    const p = c.get("principal");
    return c.json(
      p.kind === "admin"
        ? { principal: "admin" }
        : { principal: "tenant", tenant: p.tenant },
    );
  });

  app.post("/api/v1/tenants", async (c) => {
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

  app.get("/api/v1/tenants", async (c) => {
    const p = c.get("principal");
    const list = p.kind === "admin"
      ? await tenants.list()
      : [await tenants.get(p.tenant)];
    return c.json({ tenants: list });
  });

  app.get("/api/v1/tenants/:tenant", async (c) => {
    return c.json(
      await tenants.get(checkName("tenant", c.req.param("tenant"))),
    );
  });

  app.delete("/api/v1/tenants/:tenant", async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    assertAdmin(c.get("principal"), "delete tenants");
    await options.remove(id);
    return c.body(null, 204);
  });

  app.post("/api/v1/tenants/:tenant/token", async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    return c.json(await tenants.rotateToken(id), 201);
  });

  app.get("/api/v1/tenants/:tenant/webhook-secret", async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    return c.json(await tenants.webhookSecrets(id));
  });

  app.post("/api/v1/tenants/:tenant/webhook-secret", async (c) => {
    const id = checkName("tenant", c.req.param("tenant"));
    return c.json(await tenants.rotateWebhookSecret(id), 201);
  });
  return app;
}
