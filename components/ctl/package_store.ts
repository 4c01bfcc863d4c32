/**
 * The control service's store: job packages, each deploy an immutable
 * version, with a head pointer to the current one. Every change is
 * announced on the definition stream (`feed`).
 */
import {
  ChangeFeed,
  ConflictError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import { keys } from "../keys.ts";
import type { FileRepo } from "../repo/file_repo.ts";
import type { EventDef, JobPackage, PackageIssue } from "./job_package.ts";
import { parsePackage } from "./parse_package.ts";
import type { Limits } from "./runtime_limits.ts";

/** The current version of a package. */
export interface PackageHead {
  tenant: string;
  id: string;
  name?: string;
  version: number;
  deployedAt: string;
}

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

export interface PackageStoreOptions {
  now?: () => number;
  /** Largest package source, in bytes. Default 60 KiB. */
  maxSourceBytes?: number;
  /** The highest limits a runtime may declare. Default `DEFAULT_MAX_LIMITS`. */
  maxLimits?: Limits;
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

  constructor(
    private readonly kv: Deno.Kv,
    private readonly repo: FileRepo,
    options: PackageStoreOptions = {},
  ) {
    this.feed = new ChangeFeed(kv, keys.definitionSignal());
    this.#now = options.now ?? Date.now;
    this.#maxSource = options.maxSourceBytes ?? 60 * 1024;
    this.#maxLimits = options.maxLimits;
  }

  /** Validates a package source and makes it the new current version. */
  async deploy(source: string): Promise<PackageHead> {
    if (new TextEncoder().encode(source).length > this.#maxSource) {
      throw new ValidationError(
        `Package source is larger than ${this.#maxSource} bytes`,
        {
          issues: [{
            kind: "structure",
            path: "",
            message: `Package source is larger than ${this.#maxSource} bytes`,
            line: 1,
            col: 1,
          }],
        },
      );
    }
    // File references resolve against the tenant the package names.
    const first = parsePackage(source, { maxLimits: this.#maxLimits });
    const tenant = first.pkg?.tenant ?? tenantOf(source);
    const files = tenant ? await this.repo.list(tenant) : [];
    const kinds = new Map(files.map((f) => [f.name, f.kind]));
    const { pkg, issues } = parsePackage(source, {
      fileKind: (n) => kinds.get(n),
      maxLimits: this.#maxLimits,
    });
    if (!pkg) throw packageError(issues);
    const pinned: Record<string, string> = {};
    for (const f of files) {
      if (
        pkg.runtimes.some((r) => r.moduleref === f.name) ||
        declaredEvents(pkg).some((e) => e.schema.schemaref === f.name)
      ) {
        pinned[f.name] = f.sha256;
      }
    }
    return await this.#commit(pkg, pinned, source);
  }

  async #commit(
    pkg: JobPackage,
    files: Record<string, string>,
    source: string,
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
      const version = await this.#nextVersion(tenant, id);
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
      const head: PackageHead = {
        tenant,
        id,
        name: pkg.name,
        version,
        deployedAt: new Date(this.#now()).toISOString(),
      };
      const op = this.kv.atomic().check(headEntry).check({
        key: keys.packageVersion(tenant, id, version),
        versionstamp: null,
      });
      for (const o of owners) op.check(o);
      op.set(keys.packageHead(tenant, id), head)
        .set(keys.packageVersion(tenant, id, version), {
          ...head,
          package: pkg,
          files,
          ...(rollbackOf ? { rollbackOf } : {}),
        })
        .set(keys.packageSource(tenant, id, version), source)
        .set(keys.tenant(tenant), { id: tenant });
      for (const e of events) {
        op.set(keys.eventOwner(tenant, e), { package: id });
      }
      for (const e of prev ? declaredEvents(prev.package) : []) {
        if (!events.includes(e.id)) op.delete(keys.eventOwner(tenant, e.id));
      }
      if ((await this.feed.notify(op).commit()).ok) return head;
    }
    throw new ConflictError(
      `Package "${id}" of tenant "${tenant}" is being changed concurrently; try again`,
    );
  }

  async #nextVersion(tenant: string, id: string): Promise<number> {
    const last = await Array.fromAsync(
      this.kv.list({ prefix: keys.packageVersions(tenant, id) }, {
        reverse: true,
        limit: 1,
      }),
    );
    return last.length ? (last[0].key[3] as number) + 1 : 1;
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
    return (await this.kv.get<string>(keys.packageSource(tenant, id, version)))
      .value;
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
  ): Promise<PackageHead> {
    await this.current(tenant, id);
    const old = await this.version(tenant, id, version);
    if (!old) {
      throw new NotFoundError(
        `Package "${id}" of tenant "${tenant}" has no version ${version}`,
      );
    }
    const source = (await this.source(tenant, id, version)) ?? "";
    return await this.#commit(old.package, old.files, source, version);
  }

  /** Removes a package, all its versions and its event ownership. */
  async delete(tenant: string, id: string): Promise<void> {
    const cur = await this.current(tenant, id);
    const doomed: Deno.KvKey[] = [keys.packageHead(tenant, id)];
    for (
      const prefix of [
        keys.packageVersions(tenant, id),
        keys.packageSources(tenant, id),
      ]
    ) {
      for await (const e of this.kv.list({ prefix })) doomed.push(e.key);
    }
    for (const e of declaredEvents(cur.package)) {
      doomed.push(keys.eventOwner(tenant, e.id));
    }
    for (let i = 0; i < doomed.length; i += 900) {
      const op = this.kv.atomic();
      for (const k of doomed.slice(i, i + 900)) op.delete(k);
      if (i + 900 >= doomed.length) this.feed.notify(op);
      if (!(await op.commit()).ok) {
        throw new Error(`Deleting package "${id}" failed`);
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
}

/** A 400 (or a 422 when only references fail) carrying every issue. */
function packageError(issues: PackageIssue[]): Error {
  const refsOnly = issues.length > 0 &&
    issues.every((i) => i.kind === "reference");
  const detail =
    `The package has ${issues.length} problem${
      issues.length === 1 ? "" : "s"
    }: ` +
    issues.slice(0, 3).map((i) => `${i.line}:${i.col} ${i.message}`).join(
      "; ",
    ) + (issues.length > 3 ? "; ..." : "");
  return refsOnly
    ? new UnprocessableError(detail, { issues })
    : new ValidationError(detail, { issues });
}

/** The tenant named at the top level, when the rest of the package is broken. */
function tenantOf(source: string): string | undefined {
  const m = /^tenant:\s*["']?([A-Za-z0-9][A-Za-z0-9._-]{0,63})["']?\s*$/m.exec(
    source,
  );
  return m?.[1];
}
