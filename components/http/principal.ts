/**
 * Who is calling: the admin (JOBICO_ADMIN_TOKEN), one tenant (its token),
 * or, for events an event declares public or signed, nobody in particular.
 * The auth middleware puts it on the request context as `principal`.
 */
import { ForbiddenError } from "@jobico/goico";

export type Principal =
  | { kind: "admin" }
  | { kind: "tenant"; tenant: string };

/** Hono context variables set by the auth middleware. */
export interface AuthVariables {
  principal: Principal;
}

/** How a principal is named in records (`deployedBy`): "admin" or "tenant:<id>". */
export function principalName(p: Principal): string {
  return p.kind === "admin" ? "admin" : `tenant:${p.tenant}`;
}

/** Throws a 403 naming the tenant unless `p` may read and change `tenant`. */
export function assertTenantAccess(p: Principal, tenant: string): void {
  if (p.kind === "admin" || p.tenant === tenant) return;
  throw new ForbiddenError(
    `The token of tenant "${p.tenant}" cannot access tenant "${tenant}"`,
  );
}

/** Throws a 403 unless `p` is the admin; `what` names the action. */
export function assertAdmin(p: Principal, what: string): void {
  if (p.kind === "admin") return;
  throw new ForbiddenError(
    `Only the admin token can ${what}; the token of tenant "${p.tenant}" cannot`,
  );
}
