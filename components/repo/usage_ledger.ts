/**
 * What each tenant stores, kept exact under concurrent writes: its files,
 * the bytes of the distinct contents its files and package versions use,
 * and its versions; and, for each content, which tenants use it, so that a
 * blob is collected only when no tenant does.
 *
 * Every change of a tenant's files or versions goes through here, and its
 * atomic checks and rewrites the tenant's usage entry: the changes of one
 * tenant are serialized, so two uploads that would each fit a quota but not
 * together cannot both commit, and the tenant's per-content records
 * (`blobRef`, with the index `blobUser`) change only with its usage.
 *
 * A tenant that stored things before usage was kept has no entry: the first
 * writer counts what it has (`entry`), and none of its files or versions
 * can change until that count is written.
 */
import {
  type BlobStore,
  ConflictError,
  NotFoundError,
  type StagedBlob,
} from "@jobico/goico";
import type { PackageVersion } from "../packages/package_store.ts";
import { keys } from "../model/keys.ts";
import { tenantBorn } from "../tenants/tenant_born.ts";
import { assertNotDeleting } from "../tenants/tenant_deletion.ts";
import type { Quotas } from "../tenants/tenant_policy.ts";
import type { FileInfo } from "./file_repo.ts";
import { QuotaExceededError } from "./quota_exceeded_error.ts";

/** What a tenant stores. */
export interface TenantUsage {
  /** Its files (names). */
  files: number;
  /** The size of each distinct content its files and versions use, once. */
  bytes: number;
  /** Its package versions. */
  versions: number;
  /**
   * Bumped when a version is added (or the policy changes): the retention
   * sweeper goes through the tenant's versions while it is above `swept`.
   */
  changes?: number;
  /** The `changes` the retention sweeper last went through entirely. */
  swept?: number;
}

/** What one tenant keeps of one content. */
export interface BlobRef {
  size: number;
  /** Its files whose content this is. */
  names: number;
  /** Its package versions that pin this content. */
  versions: number;
}

export interface UsageLedgerOptions {
  /** A tenant's quotas. Default: no limit. */
  quotas?: (tenant: string) => Promise<Quotas>;
  now?: () => number;
}

/** How a change moves one content's counts. */
interface RefChange {
  /** Its size, when the change is the tenant's first use of it. */
  size: number;
  names: number;
  versions: number;
}

/**
 * Tries of a change refused because the tenant changed meanwhile (each
 * waits a little longer, at random, so many writers of one tenant spread).
 */
const TRIES = 50;
/** Contents counted per atomic when a tenant is first counted. */
const COUNT_BATCH = 400;
const UNLIMITED: Quotas = {
  files: Number.POSITIVE_INFINITY,
  bytes: Number.POSITIVE_INFINITY,
  maxConcurrency: 0,
};

export class UsageLedger {
  readonly #quotas: (tenant: string) => Promise<Quotas>;
  readonly #now: () => number;

  constructor(
    private readonly kv: Deno.Kv,
    readonly blobs: BlobStore,
    options: UsageLedgerOptions = {},
  ) {
    this.#quotas = options.quotas ?? (() => Promise.resolve(UNLIMITED));
    this.#now = options.now ?? Date.now;
  }

  /** The tenant's usage entry; a tenant without one is counted first. */
  async entry(tenant: string): Promise<Deno.KvEntry<TenantUsage>> {
    for (;;) {
      const e = await this.kv.get<TenantUsage>(keys.usage(tenant));
      if (e.value) return e as Deno.KvEntry<TenantUsage>;
      await this.#count(tenant);
    }
  }

  /** The tenant's usage, without writing anything (a tenant not counted yet is measured). */
  async read(tenant: string): Promise<TenantUsage> {
    const e = await this.kv.get<TenantUsage>(keys.usage(tenant));
    return e.value ?? (await this.measure(tenant)).usage;
  }

  /**
   * The tenant's usage entry, or null when it has none; a tenant that has
   * files or versions but no entry yet (stored before usage was kept) is
   * counted first.
   */
  async find(tenant: string): Promise<Deno.KvEntry<TenantUsage> | null> {
    const e = await this.kv.get<TenantUsage>(keys.usage(tenant));
    if (e.value) return e as Deno.KvEntry<TenantUsage>;
    for (const prefix of [keys.files(tenant), keys.tenantVersions(tenant)]) {
      const any = await Array.fromAsync(this.kv.list({ prefix }, { limit: 1 }));
      if (any.length > 0) return await this.entry(tenant);
    }
    return null;
  }

  /** Counts what the tenant stores from its files and versions themselves. */
  async measure(
    tenant: string,
  ): Promise<{ usage: TenantUsage; refs: Map<string, BlobRef> }> {
    const refs = new Map<string, BlobRef>();
    const ref = (sha: string) =>
      refs.get(sha) ??
        refs.set(sha, { size: -1, names: 0, versions: 0 }).get(sha)!;
    let files = 0;
    let versions = 0;
    for await (
      const e of this.kv.list<FileInfo>({ prefix: keys.files(tenant) })
    ) {
      files++;
      const r = ref(e.value.sha256);
      r.size = e.value.size;
      r.names++;
    }
    for await (
      const e of this.kv.list<PackageVersion>({
        prefix: keys.tenantVersions(tenant),
      })
    ) {
      versions++;
      for (const sha of new Set(Object.values(e.value.files))) {
        ref(sha).versions++;
      }
    }
    let bytes = 0;
    for (const [sha, r] of refs) {
      if (r.size < 0) r.size = (await this.blobs.meta(sha))?.size ?? 0;
      bytes += r.size;
    }
    return {
      usage: { files, bytes, versions, changes: 1, swept: 0 },
      refs,
    };
  }

  /**
   * Writes the first count of a tenant, unless another writer did.
   *
   * @throws {ConflictError} when the tenant is being deleted (nothing of it
   * may be written then: its sweep removes what it finds)
   */
  async #count(tenant: string): Promise<void> {
    const { usage, refs } = await this.measure(tenant);
    const absent = { key: keys.usage(tenant), versionstamp: null };
    const alive = { key: keys.tenantDeletion(tenant), versionstamp: null };
    const all = [...refs];
    for (let i = 0; i < all.length; i += COUNT_BATCH) {
      const op = this.kv.atomic().check(absent).check(alive);
      for (const [sha, r] of all.slice(i, i + COUNT_BATCH)) {
        op.set(keys.blobRef(tenant, sha), r).set(
          keys.blobUser(sha, tenant),
          true,
        );
      }
      if (!(await op.commit()).ok) {
        return await assertNotDeleting(this.kv, tenant);
      }
    }
    const res = await this.kv.atomic().check(absent).check(alive)
      .set(absent.key, usage).commit();
    if (!res.ok) await assertNotDeleting(this.kv, tenant);
  }

  /**
   * Refuses, before its content is stored, a file that cannot fit the
   * tenant's quotas. Writes nothing (unless the tenant is counted first).
   *
   * @throws {QuotaExceededError} naming the quota, its limit and the usage
   */
  async checkFile(
    tenant: string,
    name: string,
    content: { sha256: string; size: number },
  ): Promise<void> {
    const usage = await this.entry(tenant);
    const change = await this.#fileChange(usage, tenant, name, content);
    await this.#checkQuotas(tenant, name, content.size, usage.value, change);
  }

  /**
   * Points a file name at staged content, counted, in one atomic that also
   * publishes the blob (the name and its bytes appear in one write); `stage`
   * stages the content again when the staged blob can no longer be
   * published (collected, or published by another upload meanwhile). A
   * staged blob that is not published is discarded.
   *
   * @throws {QuotaExceededError} when it does not fit the tenant's quotas
   * @throws {ConflictError} when the tenant is being deleted
   */
  async putFile(
    info: FileInfo,
    stage: () => Promise<StagedBlob>,
    staged?: StagedBlob,
  ): Promise<void> {
    const { tenant, name } = info;
    let blob = staged ?? await stage();
    let published = false;
    try {
      for (let tries = 0; tries < TRIES; tries++) {
        const usage = await this.entry(tenant);
        const change = await this.#fileChange(usage, tenant, name, info);
        // Refused when another upload took the room meanwhile.
        await this.#checkQuotas(tenant, name, info.size, usage.value, change);
        const op = this.kv.atomic();
        change.write(op);
        blob.publish(op)
          // Not while the tenant is being deleted (see delete_tenant.ts).
          .check({ key: keys.tenantDeletion(tenant), versionstamp: null })
          .set(keys.file(tenant, name), info)
          .set(keys.tenant(tenant), { id: tenant });
        tenantBorn(op, tenant, this.#now());
        if ((await op.commit()).ok) {
          published = true;
          return;
        }
        await assertNotDeleting(this.kv, tenant);
        // The tenant changed meanwhile, or the blob was collected or
        // published by another upload: look again.
        if (!(await blob.publishable())) {
          await blob.discard();
          blob = await stage();
        }
        await backoff(tries);
      }
      throw busy(tenant);
    } finally {
      // Not published: its chunks go now (else the abandoned-upload
      // collector would remove them after its grace period).
      if (!published) await blob.discard().catch(() => {});
    }
  }

  /**
   * Removes a file name, releasing its content (which stays while a
   * version pins it).
   *
   * @throws {NotFoundError} the tenant has no such file
   */
  async deleteFile(tenant: string, name: string): Promise<FileInfo> {
    for (let tries = 0; tries < TRIES; tries++) {
      const usage = await this.entry(tenant);
      const change = await this.#fileChange(usage, tenant, name, null);
      if (!change.from) {
        throw new NotFoundError(`Tenant "${tenant}" has no file "${name}"`);
      }
      const op = this.kv.atomic();
      change.write(op);
      op.delete(keys.file(tenant, name));
      if ((await op.commit()).ok) return change.from;
      await backoff(tries);
    }
    throw busy(tenant);
  }

  /**
   * The writes that count a new version of the tenant and the contents it
   * pins, for the atomic that stores the version (which they make fail if
   * the tenant changed meanwhile).
   *
   * @throws {ConflictError} a file the version uses was replaced meanwhile
   */
  async addVersion(
    tenant: string,
    files: Record<string, string>,
  ): Promise<(op: Deno.AtomicOperation) => void> {
    const usage = await this.entry(tenant);
    const changes = new Map<string, RefChange>();
    for (const sha of new Set(Object.values(files))) {
      changes.set(sha, { size: 0, names: 0, versions: 1 });
    }
    const refs = await this.#refs(tenant, [...changes.keys()]);
    for (const [name, sha] of Object.entries(files)) {
      if (!refs.get(sha)?.value) {
        throw new ConflictError(
          `File "${name}" of tenant "${tenant}" was replaced or deleted while deploying; deploy again`,
        );
      }
    }
    const next = {
      ...usage.value,
      versions: usage.value.versions + 1,
      changes: (usage.value.changes ?? 0) + 1,
    };
    const write = this.#refChanges(tenant, next, changes, refs);
    return (op) => {
      op.check(usage);
      write(op);
      op.set(usage.key, next);
    };
  }

  /**
   * Removes a package version and its source, releasing the contents it
   * pins, in one atomic that also checks `checks` and carries `also`.
   * Returns false when it was refused (a check failed, or the tenant
   * changed meanwhile: look again); true once the version is gone.
   */
  async dropVersion(
    tenant: string,
    id: string,
    version: number,
    options: {
      checks?: Deno.AtomicCheck[];
      also?: (op: Deno.AtomicOperation) => void;
    } = {},
  ): Promise<boolean> {
    const usage = await this.entry(tenant);
    const v = await this.kv.get<PackageVersion>(
      keys.packageVersion(tenant, id, version),
    );
    if (!v.value) return true;
    const changes = new Map<string, RefChange>();
    for (const sha of new Set(Object.values(v.value.files))) {
      changes.set(sha, { size: 0, names: 0, versions: -1 });
    }
    const next = { ...usage.value, versions: usage.value.versions - 1 };
    const refs = await this.#refs(tenant, [...changes.keys()]);
    const write = this.#refChanges(tenant, next, changes, refs);
    const op = this.kv.atomic().check(usage).check(v);
    for (const c of options.checks ?? []) op.check(c);
    write(op);
    op.delete(v.key)
      .delete(keys.packageSource(tenant, id, version))
      .set(usage.key, next);
    options.also?.(op);
    return (await op.commit()).ok;
  }

  /** Tells the retention sweeper to go through the tenant's versions again. */
  async markVersionsChanged(tenant: string): Promise<void> {
    for (let tries = 0; tries < TRIES; tries++) {
      const usage = await this.entry(tenant);
      const res = await this.kv.atomic().check(usage)
        .set(usage.key, {
          ...usage.value,
          changes: (usage.value.changes ?? 0) + 1,
        }).commit();
      if (res.ok) return;
      await backoff(tries);
    }
    throw busy(tenant);
  }

  /**
   * Records that the retention sweeper went through every version there was
   * at `changes` (a `changes` value it read before it began).
   */
  async versionsSwept(
    tenant: string,
    changes: number,
    checks: Deno.AtomicCheck[] = [],
  ): Promise<boolean> {
    for (let tries = 0; tries < TRIES; tries++) {
      const usage = await this.entry(tenant);
      if ((usage.value.swept ?? 0) >= changes) return true;
      const op = this.kv.atomic().check(usage);
      for (const c of checks) op.check(c);
      op.set(usage.key, { ...usage.value, swept: changes });
      if ((await op.commit()).ok) return true;
    }
    return false;
  }

  /**
   * Removes the index entries of the contents a tenant uses, before the
   * tenant's own records go (its blobs are then collected by the delete).
   */
  async forgetTenant(tenant: string): Promise<void> {
    let op = this.kv.atomic();
    let n = 0;
    for await (const e of this.kv.list({ prefix: keys.blobRefs(tenant) })) {
      op.delete(keys.blobUser(e.key[2] as string, tenant));
      if (++n % 500 === 0) {
        await op.commit();
        op = this.kv.atomic();
      }
    }
    await op.commit();
  }

  /**
   * Makes contents candidates for collection (`collect` looks at them),
   * for a caller about to remove records that use them.
   */
  async markCandidates(shas: Iterable<string>): Promise<void> {
    let op = this.kv.atomic();
    let n = 0;
    for (const sha of shas) {
      op.set(keys.blobCandidate(sha), this.#now());
      if (++n % 500 === 0) {
        await commitOrThrow(op, "marking contents for collection");
        op = this.kv.atomic();
      }
    }
    if (n % 500 !== 0) {
      await commitOrThrow(op, "marking contents for collection");
    }
  }

  /**
   * Collects now those of `shas` that no tenant uses, and drops their
   * candidacy. Every tenant is counted first (one that stored things
   * before usage was kept is not in the index until it is). Returns how
   * many blobs went.
   */
  async collectContents(shas: Iterable<string>): Promise<number> {
    const list = [...shas];
    if (list.length === 0) return 0;
    await this.countAll();
    let collected = 0;
    for (const sha of list) {
      const candidate = await this.kv.get(keys.blobCandidate(sha));
      if (await this.blobs.collect(sha, () => this.inUse(sha))) collected++;
      if (candidate.versionstamp !== null) {
        // Unless it lost a user again meanwhile.
        await this.kv.atomic().check(candidate).delete(candidate.key)
          .commit();
      }
    }
    return collected;
  }

  /**
   * Counts every tenant not counted yet, so that the index of who uses
   * each content is complete.
   */
  async countAll(): Promise<void> {
    for await (const e of this.kv.list({ prefix: keys.tenants() })) {
      try {
        await this.find(e.key[1] as string);
      } catch (err) {
        // Deleted meanwhile: it uses nothing any more.
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }

  /** Whether some tenant still uses a content (stale index entries are dropped on the way). */
  async inUse(sha256: string): Promise<boolean> {
    for await (const u of this.kv.list({ prefix: keys.blobUsers(sha256) })) {
      const tenant = u.key[2] as string;
      const ref = await this.kv.get(keys.blobRef(tenant, sha256));
      if (ref.versionstamp !== null) return true;
      // The tenant was deleted (its records went with it).
      await this.kv.atomic().check(u).check(ref).delete(u.key).commit();
    }
    return false;
  }

  /**
   * Collects the contents that lost a user, when no tenant uses them any
   * more: at most `max` candidates are looked at. Returns how many blobs
   * went, and whether candidates are left.
   */
  async collect(
    options: { max: number; guard?: () => Promise<Deno.AtomicCheck[]> },
  ): Promise<{ collected: number; done: boolean }> {
    let collected = 0;
    let seen = 0;
    for await (
      const c of this.kv.list({ prefix: keys.blobCandidates() }, {
        limit: options.max,
      })
    ) {
      seen++;
      const guard = await options.guard?.() ?? [];
      const sha = c.key[1] as string;
      if (await this.blobs.collect(sha, () => this.inUse(sha))) collected++;
      // Unless the content lost a user again meanwhile.
      const op = this.kv.atomic().check(c);
      for (const g of guard) op.check(g);
      if (!(await op.delete(c.key).commit()).ok) {
        return { collected, done: false };
      }
    }
    return { collected, done: seen < options.max };
  }

  /** The change a file name's move (or removal, `to` null) makes. */
  async #fileChange(
    usage: Deno.KvEntry<TenantUsage>,
    tenant: string,
    name: string,
    to: { sha256: string; size: number } | null,
  ): Promise<FileChange> {
    const file = await this.kv.get<FileInfo>(keys.file(tenant, name));
    const from = file.value;
    const changes = new Map<string, RefChange>();
    if (from && from.sha256 !== to?.sha256) {
      changes.set(from.sha256, { size: from.size, names: -1, versions: 0 });
    }
    if (to && from?.sha256 !== to.sha256) {
      changes.set(to.sha256, { size: to.size, names: 1, versions: 0 });
    }
    const next = {
      ...usage.value,
      files: usage.value.files + (to ? 1 : 0) - (from ? 1 : 0),
    };
    const refs = await this.#refs(tenant, [...changes.keys()]);
    const write = this.#refChanges(tenant, next, changes, refs);
    return {
      from,
      next,
      write: (op) => {
        op.check(usage).check(file);
        write(op);
        op.set(usage.key, next);
      },
    };
  }

  async #refs(
    tenant: string,
    shas: string[],
  ): Promise<Map<string, Deno.KvEntryMaybe<BlobRef>>> {
    const out = new Map<string, Deno.KvEntryMaybe<BlobRef>>();
    for (let i = 0; i < shas.length; i += 10) {
      const part = shas.slice(i, i + 10);
      const got = await this.kv.getMany<BlobRef[]>(
        part.map((sha) => keys.blobRef(tenant, sha)),
      );
      part.forEach((sha, j) => out.set(sha, got[j]));
    }
    return out;
  }

  /**
   * Applies content changes to `next` (its bytes) and returns the writes of
   * the per-content records; a content no longer used by the tenant
   * becomes a candidate for collection.
   */
  #refChanges(
    tenant: string,
    next: TenantUsage,
    changes: Map<string, RefChange>,
    refs: Map<string, Deno.KvEntryMaybe<BlobRef>>,
  ): (op: Deno.AtomicOperation) => void {
    const writes: ((op: Deno.AtomicOperation) => void)[] = [];
    for (const [sha, change] of changes) {
      const ref = refs.get(sha)?.value ?? null;
      const after: BlobRef = {
        size: ref?.size ?? change.size,
        names: (ref?.names ?? 0) + change.names,
        versions: (ref?.versions ?? 0) + change.versions,
      };
      if (after.names <= 0 && after.versions <= 0) {
        if (!ref) continue;
        next.bytes -= ref.size;
        writes.push((op) =>
          op.delete(keys.blobRef(tenant, sha))
            .delete(keys.blobUser(sha, tenant))
            .set(keys.blobCandidate(sha), this.#now())
        );
      } else {
        if (!ref) next.bytes += after.size;
        writes.push((op) => {
          op.set(keys.blobRef(tenant, sha), after);
          if (!ref) op.set(keys.blobUser(sha, tenant), true);
        });
      }
    }
    return (op) => writes.forEach((w) => w(op));
  }

  async #checkQuotas(
    tenant: string,
    name: string,
    size: number,
    before: TenantUsage,
    change: FileChange,
  ): Promise<void> {
    const { next } = change;
    if (next.files <= before.files && next.bytes <= before.bytes) return;
    const quotas = await this.#quotas(tenant);
    if (next.files > before.files && next.files > quotas.files) {
      throw new QuotaExceededError(
        "files",
        `Tenant "${tenant}" has ${before.files} files and its files quota is ${quotas.files}: ` +
          `delete a file to upload "${name}", or ask the admin to raise quotas.files`,
        { tenant, limit: quotas.files, usage: before.files, requested: 1 },
      );
    }
    if (next.bytes > before.bytes && next.bytes > quotas.bytes) {
      throw new QuotaExceededError(
        "bytes",
        `File "${name}" (${size} bytes) does not fit the bytes quota of tenant "${tenant}": ` +
          `it stores ${before.bytes} of ${quotas.bytes} bytes; delete files or package versions, ` +
          `or ask the admin to raise quotas.bytes`,
        { tenant, limit: quotas.bytes, usage: before.bytes, requested: size },
      );
    }
  }
}

interface FileChange {
  /** What the name pointed at before. */
  from: FileInfo | null;
  /** The tenant's usage after the change. */
  next: TenantUsage;
  /** Adds the checks and writes of the change (not the file entry itself). */
  write(op: Deno.AtomicOperation): void;
}

/** Waits up to 2^tries ms (at most 50), at random. */
function backoff(tries: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 ** tries);
  return new Promise((r) => setTimeout(r, ms));
}

function busy(tenant: string): ConflictError {
  return new ConflictError(
    `Tenant "${tenant}" is being changed concurrently; try again`,
  );
}

async function commitOrThrow(
  op: Deno.AtomicOperation,
  what: string,
): Promise<void> {
  if (!(await op.commit()).ok) throw new Error(`${what} failed`);
}
