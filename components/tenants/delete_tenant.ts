/**
 * Deletes a tenant and everything of it, resumably (see
 * tenant_deletion.ts): it is marked deleted first (its token stops, it is
 * gone from the API, its events stop being routed and run), then its
 * queues (waiting, in flight, delayed, dead, and their counters) go, then
 * its packages, versions, files, executions, idempotency records, usage,
 * settings, version pins and its entries in the index of who uses each
 * content, then the contents no other tenant uses (made candidates for
 * collection first, so a crash leaves them to the retention sweeper or the
 * next sweep). `finishTenantDeletions`, run by the
 * platform at start and every few seconds, sweeps again the tenants whose
 * mark remains (a crash midway) and removes a mark once a last sweep came
 * late enough that nothing under way can add to what it removed.
 */
import type { DurableQueue, Logger } from "@jobico/goico";
import type {
  PackageStore,
  PackageVersion,
} from "../packages/package_store.ts";
import { keys } from "../model/keys.ts";
import { tenantQueuesPrefix } from "../model/queue_ref.ts";
import type { EventItem } from "../model/event_item.ts";
import type { FileInfo } from "../repo/file_repo.ts";
import type { UsageLedger } from "../repo/usage_ledger.ts";
import type { TenantDeletion } from "./tenant_deletion.ts";
import type { TenantStore } from "./tenant_store.ts";

export interface DeleteTenantParts {
  kv: Deno.Kv;
  tenants: TenantStore;
  store: PackageStore;
  queue: DurableQueue<EventItem>;
  /** Knows who uses each blob, and collects those nobody does. */
  ledger: UsageLedger;
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
  const { kv, tenants, queue, ledger } = parts;
  // Queues first: nothing of the tenant waits to run (nor pins a version).
  for (const name of await queue.queueNames(tenantQueuesPrefix(id))) {
    await queue.drop(name);
  }
  // Then the contents it uses, named by its files, versions and usage
  // records, become candidates for collection before any of those go: a
  // crash from here on leaves them to the next sweep or the retention
  // sweeper.
  const shas = new Set<string>();
  for await (const e of kv.list<FileInfo>({ prefix: keys.files(id) })) {
    shas.add(e.value.sha256);
  }
  for await (
    const e of kv.list<PackageVersion>({ prefix: keys.tenantVersions(id) })
  ) {
    for (const sha of Object.values(e.value.files)) shas.add(sha);
  }
  for await (const e of kv.list({ prefix: keys.blobRefs(id) })) {
    shas.add(e.key[2] as string);
  }
  await ledger.markCandidates(shas);
  // Its records: the index of who uses each content first (an entry
  // without its record is stale anyway), then everything under its id,
  // usage, settings, pins and counters included.
  await ledger.forgetTenant(id);
  await tenants.forget(id);
  // The contents no other tenant uses go now.
  await ledger.collectContents(shas);
  await parts.store.feed.notify(kv.atomic()).commit();
}
