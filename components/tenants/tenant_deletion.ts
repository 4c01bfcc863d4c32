/**
 * A tenant delete that survives a crash. It is marked first, in the one
 * atomic that also revokes the tenant's token, removes its marker (it is
 * gone from the API at once: 401 with its token, 404 with the admin's) and
 * announces a definition change (listeners stop routing its events,
 * executors stop running them); then its data is swept. The mark stays
 * until a last sweep, after executions under way when it was deleted could
 * still have been recorded, finds nothing more: any process with the
 * control component finishes it, at start and then every few seconds, so a
 * delete cut by a crash is finished after the restart.
 *
 * While it is marked, nothing may be created under its id (uploads and
 * deploys check the mark in their atomic; `create` refuses it).
 */
import { ConflictError } from "@jobico/goico";
import { keys } from "../model/keys.ts";

/** What the mark holds. */
export interface TenantDeletion {
  /** When it was marked (ms since the epoch). */
  since: number;
  /** When a sweep last finished; the mark goes after one `finalSweepAfterMs` later. */
  sweptAt?: number;
}

/** @throws {ConflictError} when the tenant is being deleted */
export async function assertNotDeleting(
  kv: Deno.Kv,
  tenant: string,
): Promise<void> {
  if ((await kv.get(keys.tenantDeletion(tenant))).versionstamp !== null) {
    throw new ConflictError(
      `Tenant "${tenant}" is being deleted; try again once it is gone`,
    );
  }
}
