/**
 * Who a request comes from, by its `Authorization: Bearer <token>`: the
 * admin token (compared in constant time) or a tenant token (looked up by
 * its hash). The middleware requires one on every /api/v1 route and puts
 * the principal on the context; `tenantGuard` then refuses a tenant token
 * with 403 on any other tenant's routes.
 */
import type { MiddlewareHandler } from "hono";
import { UnauthenticatedError } from "@jobico/goico";
import {
  assertTenantAccess,
  type AuthVariables,
  type Principal,
} from "./principal.ts";
import type { TenantStore } from "../tenants/tenant_store.ts";
import { timingSafeEqual } from "./timing_safe_equal.ts";

export class Authenticator {
  readonly #admin: string;

  constructor(
    adminToken: string,
    private readonly tenants: TenantStore,
  ) {
    if (adminToken.length < 16) {
      throw new Error("The admin token must have at least 16 characters");
    }
    this.#admin = adminToken;
  }

  /**
   * The principal of a request: null when it sends no bearer token.
   *
   * @throws {UnauthenticatedError} for a malformed header or an unknown token
   */
  principal(req: Request): Promise<Principal | null> {
    return this.principalOf(req.headers.get("authorization"));
  }

  /**
   * The principal of an `Authorization` header's value: null without one.
   *
   * @throws {UnauthenticatedError} for a malformed header or an unknown token
   */
  async principalOf(header: string | null): Promise<Principal | null> {
    if (header === null) return null;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      throw new UnauthenticatedError(
        "Malformed Authorization header: send Authorization: Bearer <token>",
      );
    }
    const token = m[1];
    if (timingSafeEqual(token, this.#admin)) {
      return { kind: "admin" };
    }
    const tenant = await this.tenants.tenantOfToken(token);
    if (tenant === null) {
      throw new UnauthenticatedError(
        "Wrong bearer token: it is neither the admin token nor a tenant's token",
      );
    }
    return { kind: "tenant", tenant };
  }

  /**
   * Why a client that was let in with `authorization` (an Authorization
   * header) may no longer access `tenant`: its token was rotated or
   * revoked, or the tenant was deleted. Null while it still may. For what
   * outlives its request: the live execution streams.
   */
  async revokedAccess(
    authorization: string | null,
    tenant: string,
  ): Promise<string | null> {
    let p: Principal | null;
    try {
      p = await this.principalOf(authorization);
    } catch (err) {
      if (!(err instanceof UnauthenticatedError)) throw err;
      return `The token this stream was opened with no longer works (it was rotated or revoked, or tenant "${tenant}" was deleted)`;
    }
    if (p === null || (p.kind === "tenant" && p.tenant !== tenant)) {
      return `The token this stream was opened with cannot access tenant "${tenant}"`;
    }
    if (!(await this.tenants.exists(tenant))) {
      return `Tenant "${tenant}" was deleted`;
    }
    return null;
  }

  /** Requires a principal and sets it on the context as `principal`. */
  middleware(): MiddlewareHandler<{ Variables: AuthVariables }> {
    return async (c, next) => {
      const p = await this.principal(c.req.raw);
      if (!p) {
        throw new UnauthenticatedError(
          "Missing bearer token: send Authorization: Bearer <token> (the admin token or the tenant's)",
        );
      }
      c.set("principal", p);
      await next();
    };
  }
}

/** For routes under /api/v1/tenants/:tenant: 403 unless the principal may access that tenant. */
export function tenantGuard(): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const tenant = c.req.param("tenant");
    if (tenant !== undefined) {
      assertTenantAccess(c.get("principal"), tenant);
    }
    await next();
  };
}
