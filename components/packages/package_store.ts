/**
 * The control service's store: job packages, each deploy an immutable
 * version, with a head pointer to the current one. Every change is
 * announced on the definition stream (`feed`).
 */
import {
  API_LIMITS,
  type DeployPlan as ApiDeployPlan,
  type PackageHead,
} from "../../api/mod.ts";
import {
  ChangeFeed,
  ConflictError,
  NotFoundError,
  ValidationError,
} from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import { keys } from "../model/keys.ts";
import { tenantBorn } from "../tenants/tenant_born.ts";
import { assertNotDeleting } from "../tenants/tenant_deletion.ts";
import type { FileRepo } from "../repo/file_repo.ts";
import { SchemaCache } from "../repo/compile_schema.ts";
import { checkScheduledItems } from "./check_scheduled_items.ts";
import { type ChainWarning, chainWarnings } from "./chain_warnings.ts";
import { type PendingFile, validateSource } from "./_validate_source.ts";
import {
  type EventDef,
  type JobPackage,
  withChainedItems,
} from "../model/job_package.ts";
import { diffPackages } from "../model/package_diff.ts";
import type { Limits } from "../model/runtime_limits.ts";

export type { PendingFile } from "./_validate_source.ts";

/**
 * The current version of a package, as the API answers it: `deployedBy`
 * ("admin" or "tenant:<id>") is absent on versions stored before it was
 * recorded.
 */
export type { PackageHead };

/** One immutable version: the model and the content hash of every file it uses. */
export interface PackageVersion extends PackageHead {
  package: JobPackage;
  /** File name -> sha-256, pinned at deploy time. */
  files: Record<string, string>;
  /** The version this one copies, for rollbacks. */
  rollbackOf?: number;
}

/**
 * Events (job events and result events) one package may declare: each is
 * checked in the deploy's atomic write, which allows 100 checks.
 */
export const MAX_EVENTS = 90;

/**
 * Options of {@linkcode PackageStore.plan}.
 *
 * @example
 * ```ts
 * const plan = await store.plan(yaml, {
 *   authorize: (tenant) => assertTenantAccess(principal, tenant),
 *   pending: [{ name: "greet.wasm", kind: "wasm", sha256 }],
 * });
 * ```
 */
export interface PlanOptions {
  /**
   * Called with the package's tenant right after parsing, before any file
   * is looked up or anything stored; throws to refuse (a 403).
   *
   * @default {undefined}
   */
  authorize?: (tenant: string) => void;
  /**
   * Files about to be uploaded, resolved as if they were (their content
   * hash and kind given). Only a plan may assume them.
   *
   * @default {[]}
   */
  pending?: PendingFile[];
}

/**
 * Options of {@linkcode PackageStore.deploy}.
 *
 * @example
 * ```ts
 * const head = await store.deploy(yaml, { by: "tenant:acme", force: true });
 * ```
 */
export interface DeployOptions extends Omit<PlanOptions, "pending"> {
  /**
   * Recorded as the version's `deployedBy`.
   *
   * @default {"admin"}
   */
  by?: string;
  /**
   * Make a new version even when the current one has the same source and
   * pins the same files. Without, such a deploy keeps the current version
   * and says so (`unchanged`).
   *
   * @default {false}
   */
  force?: boolean;
}

/** What a deploy did: the version now current, and whether it was already. */
export interface DeployedHead extends PackageHead {
  /** True when nothing changed: the current version was kept. */
  unchanged?: true;
  /** Result events that will not receive some or all of their items. */
  warnings: ChainWarning[];
}

/**
 * What a deploy would do: `POST /api/v1/packages?dryRun=true` (the API's
 * `DeployPlan`, whose `warnings` the route leaves out when there are none).
 */
export interface DeployPlan extends Omit<ApiDeployPlan, "warnings"> {
  /**
   * Result events whose schema can never accept (some of) what their job
   * sends them (see chain_warnings.ts); a file the plan only assumes is not
   * judged.
   */
  warnings: ChainWarning[];
}

export interface PackageStoreOptions {
  now?: () => number;
  /** Largest package source, in bytes. Default 60 KiB. */
  maxSourceBytes?: number;
  /** The highest limits a runtime may declare. Default `DEFAULT_MAX_LIMITS`. */
  maxLimits?: Limits;
  /**
   * The shortest time between two ticks of a schedule, in ms.
   *
   * @default {DEFAULT_MIN_SCHEDULE_INTERVAL_MS}
   */
  minScheduleIntervalMs?: number;
}

/** Every event id a package declares: job events and their result events. */
export function declaredEvents(pkg: JobPackage): EventDef[] {
  return pkg.jobs.flatMap((
    j,
  ) => [
    j.event,
    ...(j.result?.ok ? [j.result.ok] : []),
    ...(j.result?.error ? [j.result.error] : []),
  ]);
}

export class PackageStore {
  readonly feed: ChangeFeed;
  readonly #now: () => number;
  readonly #maxSource: number;

  readonly #maxLimits?: Limits;
  readonly #minScheduleIntervalMs?: number;
  /** Result events' schemas, compiled to judge what they accept. */
  readonly #schemas: SchemaCache;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly repo: FileRepo,
    options: PackageStoreOptions = {},
  ) {
    this.feed = new ChangeFeed(kv, keys.definitionSignal());
    this.#now = options.now ?? Date.now;
    this.#maxSource = options.maxSourceBytes ??
      API_LIMITS.packageSourceBytes;
    this.#maxLimits = options.maxLimits;
    this.#minScheduleIntervalMs = options.minScheduleIntervalMs;
    this.#schemas = new SchemaCache((sha) => repo.bytes(sha));
  }

  /**
   * Validates a package source and makes it the new current version.
   *
   * @throws {ValidationError} a broken package (400), with every issue
   * @throws {UnresolvedError} only references fail (422)
   * @throws {ConflictError} an event is declared by another package
   */
  async deploy(
    source: string,
    options: DeployOptions = {},
  ): Promise<DeployedHead> {
    const { pkg: parsed, pinned, judged, schedules } = await validateSource(
      source,
      this.repo,
      {
        ...options,
        maxSourceBytes: this.#maxSource,
        maxLimits: this.#maxLimits,
        minScheduleIntervalMs: this.#minScheduleIntervalMs,
      },
    );
    await checkScheduledItems(parsed, judged, schedules, this.#schemas);
    const pkg = withChainedItems(parsed);
    const warnings = await this.#chainWarnings(pkg, judged);
    if (!options.force) {
      const head = await this.#sameAsCurrent(pkg, pinned, source);
      if (head) return { ...head, unchanged: true, warnings };
    }
    return {
      ...await this.#commit(pkg, pinned, source, options.by),
      warnings,
    };
  }

  /**
   * What the result events of `pkg` will not receive (see
   * chain_warnings.ts), judged on the tenant's own files only.
   */
  #chainWarnings(
    pkg: JobPackage,
    judged: Record<string, string>,
  ): Promise<ChainWarning[]> {
    return chainWarnings(pkg, async (schemaref) => {
      const sha = judged[schemaref];
      try {
        return sha ? await this.#schemas.get(sha, schemaref) : null;
      } catch {
        // Unreadable: not judged.
        return null;
      }
    });
  }

  /**
   * The current head when it has this very source and pins the same
   * content for every file; null otherwise (or when there is none).
   */
  async #sameAsCurrent(
    pkg: JobPackage,
    pinned: Record<string, string>,
    source: string,
  ): Promise<PackageHead | null> {
    const { tenant, id } = pkg;
    const head =
      (await this.kv.get<PackageHead>(keys.packageHead(tenant, id))).value;
    if (!head) return null;
    const [cur, curSource] = await Promise.all([
      this.version(tenant, id, head.version),
      this.source(tenant, id, head.version),
    ]);
    if (!cur || curSource !== source) return null;
    const names = Object.keys(pinned);
    const same = names.length === Object.keys(cur.files).length &&
      names.every((n) => cur.files[n] === pinned[n]);
    return same ? head : null;
  }

  /**
   * What deploying `source` would change, validated exactly like a deploy,
   * without storing anything.
   */
  async plan(source: string, options: PlanOptions = {}): Promise<DeployPlan> {
    const { pkg: parsed, pinned, judged, schedules } = await validateSource(
      source,
      this.repo,
      {
        ...options,
        maxSourceBytes: this.#maxSource,
        maxLimits: this.#maxLimits,
        minScheduleIntervalMs: this.#minScheduleIntervalMs,
      },
    );
    await checkScheduledItems(parsed, judged, schedules, this.#schemas);
    const pkg = withChainedItems(parsed);
    const { tenant, id } = pkg;
    const head =
      (await this.kv.get<PackageHead>(keys.packageHead(tenant, id))).value;
    const cur = head ? await this.version(tenant, id, head.version) : null;
    await this.#eventOwners(pkg);
    return {
      tenant,
      id,
      currentVersion: cur?.version ?? null,
      changes: diffPackages(cur, { package: pkg, files: pinned }),
      unchanged: (await this.#sameAsCurrent(pkg, pinned, source)) !== null,
      warnings: await this.#chainWarnings(pkg, judged),
    };
  }

  /**
   * The owner records of every event `pkg` declares, for the commit to
   * check; throws when there are too many or another package owns one.
   */
  async #eventOwners(
    pkg: JobPackage,
  ): Promise<Deno.KvEntryMaybe<{ package: string }>[]> {
    const { tenant, id } = pkg;
    const events = declaredEvents(pkg).map((e) => e.id);
    if (events.length > MAX_EVENTS) {
      throw new ValidationError(
        `Package "${id}" declares ${events.length} events; a package may declare at most ${MAX_EVENTS} (split it into several packages)`,
      );
    }
    const owners: Deno.KvEntryMaybe<{ package: string }>[] = [];
    for (let i = 0; i < events.length; i += 10) {
      owners.push(
        ...await this.kv.getMany<{ package: string }[]>(
          events.slice(i, i + 10).map((e) => keys.eventOwner(tenant, e)),
        ),
      );
    }
    for (const o of owners) {
      if (o.value && o.value.package !== id) {
        throw new ConflictError(
          `Event "${o
            .key[
              2
            ] as string}" is already declared by package "${o.value.package}" of tenant "${tenant}"`,
        );
      }
    }
    return owners;
  }

  async #commit(
    pkg: JobPackage,
    files: Record<string, string>,
    source: string,
    by = "admin",
    rollbackOf?: number,
  ): Promise<PackageHead> {
    const { tenant, id } = pkg;
    for (let tries = 0; tries < 10; tries++) {
      const headEntry = await this.kv.get<PackageHead>(
        keys.packageHead(tenant, id),
      );
      const prev = headEntry.value
        ? await this.version(tenant, id, headEntry.value.version)
        : null;
      const { version, seq } = await this.#nextVersion(tenant, id);
      const events = declaredEvents(pkg).map((e) => e.id);
      const owners = await this.#eventOwners(pkg);
      // The version and the contents it pins are counted in the tenant's usage.
      const counted = await this.repo.ledger.addVersion(tenant, files);
      const head: PackageHead = {
        tenant,
        id,
        name: pkg.name,
        version,
        deployedAt: new Date(this.#now()).toISOString(),
        deployedBy: by,
      };
      const op = this.kv.atomic().check(headEntry, seq).check({
        key: keys.packageVersion(tenant, id, version),
        versionstamp: null,
      }).set(seq.key, version);
      for (const o of owners) op.check(o);
      counted(op);
      op.set(keys.packageHead(tenant, id), head)
        .set(keys.packageVersion(tenant, id, version), {
          ...head,
          package: pkg,
          files,
          ...(rollbackOf ? { rollbackOf } : {}),
        })
        // As UTF-8: a JS string with one character beyond Latin-1 is
        // stored at two bytes per character and would not fit a KV value.
        .set(
          keys.packageSource(tenant, id, version),
          new TextEncoder().encode(source),
        )
        .set(keys.tenant(tenant), { id: tenant })
        // Not while the tenant is being deleted (see tenant_deletion.ts).
        .check({ key: keys.tenantDeletion(tenant), versionstamp: null });
      tenantBorn(op, tenant, this.#now());
      for (const e of events) {
        op.set(keys.eventOwner(tenant, e), { package: id });
      }
      for (const e of prev ? declaredEvents(prev.package) : []) {
        if (!events.includes(e.id)) op.delete(keys.eventOwner(tenant, e.id));
      }
      if ((await this.feed.notify(op).commit()).ok) return head;
      await assertNotDeleting(this.kv, tenant);
    }
    throw new ConflictError(
      `Package "${id}" of tenant "${tenant}" is being changed concurrently; try again`,
    );
  }

  /**
   * The next version number. Numbers are never reused, even after the
   * package is deleted and deployed again: the last one is kept apart
   * (events and caches refer to a version by its number).
   */
  async #nextVersion(
    tenant: string,
    id: string,
  ): Promise<{ version: number; seq: Deno.KvEntryMaybe<number> }> {
    const seq = await this.kv.get<number>(keys.packageSeq(tenant, id));
    const last = await Array.fromAsync(
      this.kv.list({ prefix: keys.packageVersions(tenant, id) }, {
        reverse: true,
        limit: 1,
      }),
    );
    const listed = last.length ? (last[0].key[3] as number) : 0;
    return { version: Math.max(seq.value ?? 0, listed) + 1, seq };
  }

  async list(tenant: string): Promise<PackageHead[]> {
    checkName("tenant", tenant);
    const out: PackageHead[] = [];
    for await (
      const e of this.kv.list<PackageHead>({
        prefix: keys.packageHeads(tenant),
      })
    ) out.push(e.value);
    return out;
  }

  /** The current version of a package, or a 404 naming it. */
  async current(tenant: string, id: string): Promise<PackageVersion> {
    checkName("tenant", tenant);
    checkName("package id", id);
    const head =
      (await this.kv.get<PackageHead>(keys.packageHead(tenant, id))).value;
    if (!head) {
      throw new NotFoundError(`Tenant "${tenant}" has no package "${id}"`);
    }
    const v = await this.version(tenant, id, head.version);
    if (!v) {
      throw new NotFoundError(
        `Package "${id}" of tenant "${tenant}" has no version ${head.version}`,
      );
    }
    return v;
  }

  async version(
    tenant: string,
    id: string,
    version: number,
  ): Promise<PackageVersion | null> {
    return (await this.kv.get<PackageVersion>(
      keys.packageVersion(tenant, id, version),
    )).value;
  }

  async source(
    tenant: string,
    id: string,
    version: number,
  ): Promise<string | null> {
    const v = (await this.kv.get<string | Uint8Array>(
      keys.packageSource(tenant, id, version),
    )).value;
    // Sources stored before they were kept as UTF-8 are strings.
    return v instanceof Uint8Array ? new TextDecoder().decode(v) : v;
  }

  async versions(
    tenant: string,
    id: string,
  ): Promise<(PackageHead & { current: boolean; rollbackOf?: number })[]> {
    const head = await this.current(tenant, id);
    const out = [];
    for await (
      const e of this.kv.list<PackageVersion>({
        prefix: keys.packageVersions(tenant, id),
      })
    ) {
      const { package: _p, files: _f, ...meta } = e.value;
      out.push({ ...meta, current: meta.version === head.version });
    }
    return out;
  }

  /** Makes version `version`'s content current again, as a new version. */
  async rollback(
    tenant: string,
    id: string,
    version: number,
    options: { by?: string } = {},
  ): Promise<PackageHead> {
    await this.current(tenant, id);
    const old = await this.version(tenant, id, version);
    if (!old) {
      throw new NotFoundError(
        `Package "${id}" of tenant "${tenant}" has no version ${version}`,
      );
    }
    const source = (await this.source(tenant, id, version)) ?? "";
    return await this.#commit(
      old.package,
      old.files,
      source,
      options.by,
      version,
    );
  }

  /**
   * Removes a package, all its versions and its event ownership. The head
   * and the ownership go first, in one atomic (the package is gone for the
   * listener from then on), then each version; versions left by a crash
   * midway are removed by the retention sweeper.
   */
  async delete(tenant: string, id: string): Promise<void> {
    const cur = await this.current(tenant, id);
    const head = await this.kv.get(keys.packageHead(tenant, id));
    const op = this.kv.atomic().check(head).delete(head.key);
    for (const e of declaredEvents(cur.package)) {
      op.delete(keys.eventOwner(tenant, e.id));
    }
    if (!(await this.feed.notify(op).commit()).ok) {
      throw new ConflictError(
        `Package "${id}" of tenant "${tenant}" is being changed concurrently; try again`,
      );
    }
    await this.repo.ledger.markVersionsChanged(tenant);
    for await (
      const e of this.kv.list({ prefix: keys.packageVersions(tenant, id) })
    ) {
      const version = e.key[3] as number;
      let tries = 0;
      while (!(await this.repo.ledger.dropVersion(tenant, id, version))) {
        if (++tries >= 20) {
          throw new ConflictError(
            `Tenant "${tenant}" is being changed concurrently; the rest of package "${id}" will be removed by the retention sweeper`,
          );
        }
      }
    }
  }

  /** Which package of the tenant declares `event`, or null. */
  async ownerOf(tenant: string, event: string): Promise<string | null> {
    return (await this.kv.get<{ package: string }>(
      keys.eventOwner(tenant, event),
    )).value?.package ?? null;
  }

  async tenantExists(tenant: string): Promise<boolean> {
    return (await this.kv.get(keys.tenant(tenant))).value !== null;
  }

  /** The tenants being deleted (see tenant_deletion.ts). */
  async tenantsBeingDeleted(): Promise<Set<string>> {
    const out = new Set<string>();
    for await (const e of this.kv.list({ prefix: keys.tenantDeletions() })) {
      out.add(e.key[1] as string);
    }
    return out;
  }
}
