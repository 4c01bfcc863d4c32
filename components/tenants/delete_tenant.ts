/**
 * Deletes a tenant and everything of it: its token stops working first,
 * then its queues (waiting, in flight, delayed, dead), packages, versions,
 * files, executions and idempotency records go, then the blobs no other
 * tenant uses, and the definition stream announces the change so listeners
 * and executors drop its routes. Safe to run again after a crash midway.
 */
import type { BlobStore, DurableQueue } from "../../goico/mod.ts";
import type { PackageStore, PackageVersion } from "../ctl/package_store.ts";
import { keys } from "../keys.ts";
import type { EventItem } from "../queue/event_item.ts";
import type { FileInfo } from "../repo/file_repo.ts";
import type { UsageLedger } from "../repo/usage_ledger.ts";
import type { TenantStore } from "./tenant_store.ts";

export interface DeleteTenantParts {
  kv: Deno.Kv;
  tenants: TenantStore;
  store: PackageStore;
  queue: DurableQueue<EventItem>;
  blobs: BlobStore;
  /** Drops the tenant from the index of who uses each blob. */
  ledger?: UsageLedger;
}

export async function deleteTenant(
  parts: DeleteTenantParts,
  id: string,
): Promise<void> {
  await parts.tenants.revoke(id);
  await sweepTenant(parts, id);
}

/**
 * Removes what is left of a revoked tenant. Safe to run again: an executor
 * that was running the tenant's events when it was deleted may still record
 * them (and chain results) for up to a lease, so the platform sweeps again
 * after that.
 */
export async function sweepTenant(
  parts: DeleteTenantParts,
  id: string,
): Promise<void> {
  const { kv, tenants, queue, blobs } = parts;
  for (const name of await queue.queueNames(`${id}/`)) {
    await queue.drop(name);
  }
  const shas = new Set<string>();
  for await (const e of kv.list<FileInfo>({ prefix: keys.files(id) })) {
    shas.add(e.value.sha256);
  }
  await parts.ledger?.forgetTenant(id);
  await tenants.forget(id);
  // Blobs are shared by content: keep those another tenant still uses.
  for await (const e of kv.list<FileInfo>({ prefix: ["file"] })) {
    shas.delete(e.value.sha256);
  }
  for await (const e of kv.list<PackageVersion>({ prefix: ["pkgver"] })) {
    for (const sha of Object.values(e.value.files)) shas.delete(sha);
  }
  for (const sha of shas) await blobs.delete(sha);
  await parts.store.feed.notify(kv.atomic()).commit();
}
