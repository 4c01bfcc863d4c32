/**
 * The first step of the listener: the tenant and event named in the path,
 * checked as names and resolved to the event's route (its package version,
 * definition and compiled schema). An unknown event is a 404 only for a
 * caller with a token for the tenant: to anyone else it is the 401 a
 * token-authenticated event would be, so nothing tells what exists.
 */
import { NotFoundError } from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import type { Step } from "../http/pipeline.ts";
import type { Definitions } from "../packages/definitions.ts";
import type { PackageStore } from "../packages/package_store.ts";
import type { ListenerEnv } from "./listener_env.ts";
import type { WebhookAuth } from "./webhook_auth.ts";

export interface EventRouteOptions {
  /** The deployed events. */
  definitions: Definitions;
  /** Whether a tenant exists (for the 404's wording). */
  store: Pick<PackageStore, "tenantExists">;
  /** Checks the token of a request for an unknown event. */
  auth: Pick<WebhookAuth, "check">;
}

/**
 * Sets `route` and `knownTenant`.
 *
 * @throws {ValidationError} a bad tenant or event name (400)
 * @throws {UnauthenticatedError} an unknown event, without a token (401)
 * @throws {NotFoundError} an unknown tenant or event, to its tenant (404)
 */
export function eventRoute(options: EventRouteOptions): Step<ListenerEnv> {
  const { definitions, store, auth } = options;
  return async function eventRoute(c, next) {
    const tenant = checkName("tenant", c.req.param("tenant") ?? "");
    const event = checkName("event id", c.req.param("event") ?? "");
    const route = await definitions.route(tenant, event);
    if (!route) {
      // Only a caller with a token for the tenant learns what exists.
      await auth.check(c.req.raw, tenant, event, "token");
      if (!(await store.tenantExists(tenant))) {
        throw new NotFoundError(`Unknown tenant "${tenant}"`);
      }
      throw new NotFoundError(`Tenant "${tenant}" has no event "${event}"`);
    }
    c.set("knownTenant", tenant);
    c.set("route", route);
    return next();
  };
}
