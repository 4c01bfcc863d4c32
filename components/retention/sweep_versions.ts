/**
 * The versions part of a retention pass for one tenant: of each package,
 * the newest `keep` versions stay (the current one is the newest), and so
 * does every version a queued event still pins; the others go, once the
 * version after them has been current for `graceMs` (a listener that had
 * not yet heard of the newer one may still accept events under the older
 * one for a moment). Versions of a deleted package (left by a crash in the
 * middle of the delete) go unless pinned.
 */
import type { PackageHead, PackageVersion } from "../packages/package_store.ts";
import { keys } from "../model/keys.ts";
import { pinCount } from "../packages/version_pins.ts";
import type { UsageLedger } from "../repo/usage_ledger.ts";

export interface SweepVersionsOptions {
  kv: Deno.Kv;
  ledger: UsageLedger;
  tenant: string;
  /** Versions kept of each package, newest first. */
  keep: number;
  /** Removals at most. */
  max: number;
  graceMs: number;
  now: number;
  /** Checks every removal carries (the sweeper's lease). */
  guard: () => Promise<Deno.AtomicCheck[]>;
}

export interface SweepVersionsResult {
  deleted: number;
  /** Versions that stayed although beyond `keep`, because a queued event pins them. */
  pinned: number;
  /** Whether everything that could go went (else the tenant is looked at again). */
  done: boolean;
}

export async function sweepVersions(
  o: SweepVersionsOptions,
): Promise<SweepVersionsResult> {
  const { kv, ledger, tenant } = o;
  const usage = await ledger.entry(tenant);
  const changes = usage.value.changes ?? 0;
  const packages = new Map<string, { version: number; deployedAt: number }[]>();
  for await (
    const e of kv.list<PackageVersion>({ prefix: keys.tenantVersions(tenant) })
  ) {
    const id = e.key[2] as string;
    const list = packages.get(id) ?? packages.set(id, []).get(id)!;
    list.push({
      version: e.key[3] as number,
      deployedAt: Date.parse(e.value.deployedAt),
    });
  }
  const heads = new Set<string>();
  for await (
    const e of kv.list<PackageHead>({ prefix: keys.packageHeads(tenant) })
  ) heads.add(e.key[2] as string);
  const pins = new Map<string, Deno.KvEntry<Deno.KvU64>>();
  for await (
    const e of kv.list<Deno.KvU64>({ prefix: keys.versionPins(tenant) })
  ) pins.set(`${String(e.key[2])}\u0000${String(e.key[3])}`, e);

  let deleted = 0;
  let pinned = 0;
  let done = true;
  for (const [id, list] of packages) {
    list.sort((a, b) => b.version - a.version);
    const from = heads.has(id) ? o.keep : 0;
    for (let i = from; i < list.length; i++) {
      const { version } = list[i];
      const next = list[i - 1];
      if (next && o.now - next.deployedAt < o.graceMs) {
        done = false;
        continue;
      }
      const pinKey = keys.versionPin(tenant, id, version);
      const pin = pins.get(`${id}\u0000${version}`) ??
        { key: pinKey, versionstamp: null };
      if ("value" in pin && pinCount(pin) !== 0) {
        pinned++;
        done = false;
        continue;
      }
      if (deleted >= o.max) return { deleted, pinned, done: false };
      // Only while no event came to pin it meanwhile.
      const ok = await ledger.dropVersion(tenant, id, version, {
        checks: [...await o.guard(), pin],
        also: (op) => op.delete(pinKey),
      });
      if (ok) deleted++;
      else done = false;
    }
  }
  // Counters of versions that are gone: events that were refused their
  // version, or acknowledged after it was dropped with its package.
  for (const [k, pin] of pins) {
    const [id, version] = k.split("\u0000");
    if (packages.get(id)?.some((v) => v.version === Number(version))) continue;
    await kv.atomic().check(...await o.guard()).check(pin).check({
      key: keys.packageVersion(tenant, id, Number(version)),
      versionstamp: null,
    }).delete(pin.key).commit();
  }
  if (done) {
    done = await ledger.versionsSwept(tenant, changes, await o.guard());
  }
  return { deleted, pinned, done };
}
