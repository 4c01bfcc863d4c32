/**
 * Deletes a tenant and everything of it, resumably (see
 * tenant_deletion.ts): it is marked deleted first (its token stops, it is
 * gone from the API, its events stop being routed and run), then its
 * queues (waiting, in flight, delayed, dead, and their counters) go, then
 * the blobs no other tenant uses, then its packages, versions, files,
 * executions and idempotency records. `finishTenantDeletions`, run by the
 * platform at start and every few seconds, sweeps again the tenants whose
 * mark remains (a crash midway) and removes a mark once a last sweep came
 * late enough that nothing under way can add to what it removed.
 */
import type { BlobStore, DurableQueue, Logger } from "../../goico/mod.ts";
import type { PackageStore, PackageVersion } from "../ctl/package_store.ts";
import { keys } from "../keys.ts";
import type { EventItem } from "../queue/event_item.ts";
import type { FileInfo } from "../repo/file_repo.ts";
import type { TenantDeletion } from "./tenant_deletion.ts";
import type { TenantStore } from "./tenant_store.ts";

export interface DeleteTenantParts {
  kv: Deno.Kv;
  tenants: TenantStore;
  store: PackageStore;
  queue: DurableQueue<EventItem>;
  blobs: BlobStore;
}

/** Marks a tenant deleted and sweeps it once; the mark goes later (`finishTenantDeletions`). */
export async function deleteTenant(
  parts: DeleteTenantParts,
  id: string,
): Promise<void> {
  await parts.tenants.markDeleted(id, (op) => parts.store.feed.notify(op));
  await sweepTenant(parts, id);
  await setSwept(parts.kv, id);
}

export interface FinishOptions {
  /**
   * How long after a sweep the last one runs: executions under way when
   * the tenant was deleted may still be recorded (and chain events) until
   * their leases lapse. Default 9 s (twice a 4 s lease, and a second).
   */
  finalSweepAfterMs?: number;
  now?: () => number;
  logger?: Logger;
}

/**
 * Finishes the deletes whose mark remains: sweeps a tenant not swept since
 * it was marked (the process that marked it died), and sweeps once more,
 * then removes the mark, once `finalSweepAfterMs` passed since the last
 * sweep. Safe in several processes at once. Returns the tenants whose
 * delete it finished.
 */
export async function finishTenantDeletions(
  parts: DeleteTenantParts,
  options: FinishOptions = {},
): Promise<string[]> {
  const now = options.now ?? Date.now;
  const after = options.finalSweepAfterMs ?? 9_000;
  const finished: string[] = [];
  for await (
    const e of parts.kv.list<TenantDeletion>({
      prefix: keys.tenantDeletions(),
    })
  ) {
    const id = e.key[1] as string;
    if (e.value.sweptAt === undefined) {
      options.logger?.info("resuming a tenant delete", { tenant: id });
      await sweepTenant(parts, id);
      await setSwept(parts.kv, id, now);
      continue;
    }
    if (now() - e.value.sweptAt < after) continue;
    await sweepTenant(parts, id);
    const op = parts.kv.atomic().check(e).delete(e.key);
    if ((await parts.store.feed.notify(op).commit()).ok) {
      finished.push(id);
      options.logger?.info("tenant deleted", { tenant: id });
    }
  }
  return finished;
}

async function setSwept(
  kv: Deno.Kv,
  id: string,
  now: () => number = Date.now,
): Promise<void> {
  const key = keys.tenantDeletion(id);
  for (let tries = 0; tries < 5; tries++) {
    const e = await kv.get<TenantDeletion>(key);
    if (!e.value) return;
    const res = await kv.atomic().check(e)
      .set(key, { ...e.value, sweptAt: now() }).commit();
    if (res.ok) return;
  }
}

/**
 * Removes what is left of a tenant marked deleted. Each step stands alone
 * and can run again: a crash midway leaves what the next sweep removes.
 */
export async function sweepTenant(
  parts: DeleteTenantParts,
  id: string,
): Promise<void> {
  const { kv, tenants, queue, blobs } = parts;
  // Queues first: nothing of the tenant waits to run.
  for (const name of await queue.queueNames(`${id}/`)) {
    await queue.drop(name);
  }
  // Then its blobs no other tenant uses, while its own files and versions
  // still say which they are (so a crash here leaves them findable).
  const shas = new Set<string>();
  for await (const e of kv.list<FileInfo>({ prefix: keys.files(id) })) {
    shas.add(e.value.sha256);
  }
  for await (
    const e of kv.list<PackageVersion>({ prefix: ["pkgver", id] })
  ) {
    for (const sha of Object.values(e.value.files)) shas.add(sha);
  }
  if (shas.size > 0) {
    for await (const e of kv.list<FileInfo>({ prefix: ["file"] })) {
      if (e.key[1] !== id) shas.delete(e.value.sha256);
    }
    for await (const e of kv.list<PackageVersion>({ prefix: ["pkgver"] })) {
      if (e.key[1] === id) continue;
      for (const sha of Object.values(e.value.files)) shas.delete(sha);
    }
    for (const sha of shas) await blobs.delete(sha);
  }
  await tenants.forget(id);
  await parts.store.feed.notify(kv.atomic()).commit();
}
