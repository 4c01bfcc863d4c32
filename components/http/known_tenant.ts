/**
 * A tenant exists once it is created (or, for the admin, once something is
 * uploaded or deployed for it) and until it is deleted: every route under
 * `/api/v1/tenants/{tenant}/` agrees on that, so an unknown tenant is a 404
 * naming it everywhere, and a tenant with nothing yet answers empty lists.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { NotFoundError } from "@jobico/goico";
import { checkName } from "./check_name.ts";

/** What a route of an unknown tenant answers, and what the stores throw. */
export function unknownTenant(tenant: string): NotFoundError {
  return new NotFoundError(`Unknown tenant "${tenant}"`);
}

/**
 * Refuses requests for a tenant that does not exist with a 404, one KV read
 * each. Uploading a file (`PUT .../files/{name}`) is let through: the admin
 * may upload for a tenant before creating it, which makes it exist.
 */
export function knownTenant(
  exists: (tenant: string) => Promise<boolean>,
): MiddlewareHandler {
  return async (c, next) => {
    const param = c.req.param("tenant");
    if (param !== undefined && !isUpload(c.req.method, c.req.path)) {
      const tenant = checkName("tenant", param);
      if (!(await exists(tenant))) throw unknownTenant(tenant);
    }
    await next();
  };
}

const FILE_PATH = /^\/api\/v1\/tenants\/[^/]+\/files\/[^/]+$/;

function isUpload(method: string, path: string): boolean {
  return method === "PUT" && FILE_PATH.test(path);
}
