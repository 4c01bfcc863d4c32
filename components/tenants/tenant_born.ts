/**
 * When a tenant came to be. A tenant is made by its first upload, deploy or
 * `tenant create`, whichever comes first, and each of them writes the
 * tenant's marker again; so each also takes the minimum of the tenant's
 * birth time and its own clock (a KvU64 `min`, which sets an absent key):
 * the first write's time stays, with no read and no conflict between
 * concurrent writers. Deleting the tenant deletes it, so a tenant made
 * again later is born again.
 */
import { keys } from "../model/keys.ts";

/** Adds to `op` the write that records the tenant's birth at `now` unless it is earlier. */
export function tenantBorn<Op extends Deno.AtomicOperation>(
  op: Op,
  tenant: string,
  now: number,
): Op {
  op.min(keys.tenantBorn(tenant), BigInt(Math.max(0, Math.floor(now))));
  return op;
}

/** The birth time `tenantBorn` recorded, as ISO 8601; undefined when none was. */
export function bornAt(stored: unknown): string | undefined {
  return stored instanceof Deno.KvU64
    ? new Date(Number(stored.value)).toISOString()
    : undefined;
}
