/** The control plane's package API under /api/v1. */
import { Hono } from "hono";
import { ValidationError } from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import { readBody } from "../read_body.ts";
import type { PackageStore } from "./package_store.ts";

export function ctlApp(
  store: PackageStore,
  options: { maxSourceBytes?: number } = {},
): Hono {
  const max = options.maxSourceBytes ?? 60 * 1024;
  const app = new Hono();

  app.post("/api/v1/packages", async (c) => {
    const source = await readBody(c.req.raw, max, "Package source");
    if (source.trim() === "") {
      throw new ValidationError(
        "The package body is empty: send the job package as YAML or JSON",
      );
    }
    const head = await store.deploy(source);
    return c.json(
      { tenant: head.tenant, id: head.id, version: head.version },
      201,
    );
  });

  app.get("/api/v1/tenants/:tenant/packages", async (c) => {
    return c.json({ packages: await store.list(c.req.param("tenant")) });
  });

  app.get("/api/v1/tenants/:tenant/packages/:id", async (c) => {
    const { tenant, id } = c.req.param();
    const v = await store.current(tenant, id);
    const source = await store.source(tenant, id, v.version);
    return c.json({ ...v, source });
  });

  app.get("/api/v1/tenants/:tenant/packages/:id/versions", async (c) => {
    const { tenant, id } = c.req.param();
    return c.json({ versions: await store.versions(tenant, id) });
  });

  app.post("/api/v1/tenants/:tenant/packages/:id/rollback", async (c) => {
    const { tenant, id } = c.req.param();
    checkName("tenant", tenant);
    checkName("package id", id);
    let body: unknown;
    try {
      body = JSON.parse(await readBody(c.req.raw, 4096, "Rollback body"));
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new ValidationError(
        'Rollback body must be JSON like {"version": 2}',
      );
    }
    const version = (body as { version?: unknown })?.version;
    if (!Number.isInteger(version) || (version as number) < 1) {
      throw new ValidationError(
        `Invalid version "${String(version)}": use a whole number of 1 or more`,
      );
    }
    const head = await store.rollback(tenant, id, version as number);
    return c.json({ tenant: head.tenant, id: head.id, version: head.version });
  });

  app.delete("/api/v1/tenants/:tenant/packages/:id", async (c) => {
    const { tenant, id } = c.req.param();
    await store.delete(tenant, id);
    return c.body(null, 204);
  });
  return app;
}
