/** The control plane's package API under /api/v1. */
import { type Context, Hono } from "hono";
import { HttpError, ValidationError } from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import { SAFE_FILE_NAME } from "../keys.ts";
import {
  assertTenantAccess,
  type AuthVariables,
  type Principal,
  principalName,
} from "../principal.ts";
import { readBody } from "../read_body.ts";
import type { PackageStore, PendingFile } from "./package_store.ts";

type Env = { Variables: AuthVariables };

export function ctlApp(
  store: PackageStore,
  options: { maxSourceBytes?: number } = {},
): Hono<Env> {
  const max = options.maxSourceBytes ?? 60 * 1024;
  const app = new Hono<Env>();

  /**
   * Deploys a package; with `?dryRun=true` validates it the same way and
   * answers what would change, storing nothing. A dry run may name files
   * about to be uploaded (`file=name:kind:sha256`, repeated).
   */
  app.post("/api/v1/packages", async (c) => {
    const dryRun = flag(c.req.query("dryRun"), "dryRun");
    const pending = c.req.queries("file") ?? [];
    if (pending.length && !dryRun) {
      throw new ValidationError(
        'The "file" parameter is only for a dry run (dryRun=true): upload files before deploying',
      );
    }
    const source = await readBody(c.req.raw, max, "Package source");
    if (source.trim() === "") {
      throw new ValidationError(
        "The package body is empty: send the job package as YAML or JSON",
      );
    }
    const p = principalOf(c);
    const authorize = (tenant: string) => assertTenantAccess(p, tenant);
    if (dryRun) {
      return c.json(
        await store.plan(source, {
          authorize,
          pending: pending.map(pendingFile),
        }),
      );
    }
    const head = await store.deploy(source, {
      authorize,
      by: principalName(p),
    });
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
      // A ValidationError (not UTF-8) or a PayloadTooLargeError (413) as is.
      if (err instanceof HttpError) throw err;
      throw new ValidationError(
        'Rollback body must be JSON like {"version": 2}',
      );
    }
    const version = (body as { version?: unknown })?.version;
    if (!Number.isSafeInteger(version) || (version as number) < 1) {
      throw new ValidationError(
        `Invalid version "${String(version)}": use a whole number of 1 or more`,
      );
    }
    const p = principalOf(c);
    assertTenantAccess(p, tenant);
    const head = await store.rollback(tenant, id, version as number, {
      by: principalName(p),
    });
    return c.json({ tenant: head.tenant, id: head.id, version: head.version });
  });

  app.delete("/api/v1/tenants/:tenant/packages/:id", async (c) => {
    const { tenant, id } = c.req.param();
    await store.delete(tenant, id);
    return c.body(null, 204);
  });
  return app;
}

/**
 * Who is calling. The auth middleware sets it; a request that reached here
 * without one (no middleware mounted, an open platform) acts as the admin.
 */
function principalOf(c: Context<Env>): Principal {
  return c.get("principal") ?? { kind: "admin" };
}

/** A boolean query parameter: absent, true/1 or false/0. */
function flag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "" || value === "true" || value === "1") return true;
  throw new ValidationError(`Invalid ${name} "${value}": use true or false`);
}

/** `name:kind:sha256`, a file a dry run treats as uploaded. */
function pendingFile(spec: string): PendingFile {
  const m = /^(.+):(wasm|schema):([0-9a-f]{64})$/.exec(spec);
  if (!m) {
    throw new ValidationError(
      `Invalid file "${spec}": use name:kind:sha256, kind wasm or schema, sha256 in lowercase hex`,
    );
  }
  checkName("file name", m[1], SAFE_FILE_NAME);
  return { name: m[1], kind: m[2] as PendingFile["kind"], sha256: m[3] };
}
