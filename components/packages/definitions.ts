/**
 * What the listener and the executor know of the deployed packages: a cache
 * of event routes (tenant + event -> package version, event definition and
 * compiled validator), dropped whenever the definition stream announces a
 * change, and the immutable package versions by number.
 */
import type { ValidateFunction } from "ajv/dist/2020.js";
import type { SchemaCache } from "../repo/compile_schema.ts";
import type { EventDef, JobDef } from "../model/job_package.ts";
import type { PackageStore, PackageVersion } from "./package_store.ts";

export interface EventRoute {
  tenant: string;
  package: string;
  version: number;
  event: EventDef;
  /** The job whose event this is; undefined for result events. */
  job?: JobDef;
  validate: ValidateFunction;
}

const MAX_ROUTES = 10_000;

export class Definitions {
  #routes = new Map<string, Promise<EventRoute | null>>();
  /** The tenants being deleted, reloaded with every definition change. */
  #deleting: Promise<Set<string>> | null = null;
  readonly #versions = new Map<string, Promise<PackageVersion | null>>();
  /** Counts definition changes seen, for tests and /meta. */
  generation = 0;
  /**
   * How many definition changes had been announced when this process last
   * dropped its routes: every change up to it is in what it routes now.
   * Compared with {@linkcode latest} it tells whether a deploy reached here.
   */
  seen = 0;

  constructor(
    private readonly store: PackageStore,
    private readonly schemas: SchemaCache,
  ) {}

  /** Follows the definition stream until `signal` aborts. */
  async follow(signal: AbortSignal): Promise<void> {
    for await (const position of this.store.feed.changes(signal)) {
      this.#routes = new Map();
      this.#deleting = null;
      this.generation++;
      this.seen = Number(position);
    }
  }

  /** How many definition changes the store has announced so far. */
  async latest(): Promise<number> {
    return Number(await this.store.feed.position());
  }

  /**
   * Whether the tenant is being deleted: its events are no longer routed
   * or run (see tenant_deletion.ts). Read again after each definition
   * change (a delete announces one).
   */
  async isDeleting(tenant: string): Promise<boolean> {
    if (!this.#deleting) {
      const loading = this.store.tenantsBeingDeleted();
      this.#deleting = loading;
      loading.catch(() => {
        if (this.#deleting === loading) this.#deleting = null;
      });
    }
    return (await this.#deleting).has(tenant);
  }

  /** The current route of an event, or null when no package of the tenant declares it (or it is being deleted). */
  route(tenant: string, event: string): Promise<EventRoute | null> {
    const k = `${tenant}\u0000${event}`;
    let r = this.#routes.get(k);
    if (!r) {
      if (this.#routes.size >= MAX_ROUTES) this.#routes = new Map();
      r = this.#load(tenant, event);
      r.catch(() => this.#routes.delete(k));
      this.#routes.set(k, r);
    }
    return r;
  }

  async #load(tenant: string, event: string): Promise<EventRoute | null> {
    if (await this.isDeleting(tenant)) return null;
    const pkgId = await this.store.ownerOf(tenant, event);
    if (!pkgId) return null;
    const head = await this.store.current(tenant, pkgId).catch(() => null);
    if (!head) return null;
    return await this.routeIn(head, event);
  }

  /** The route of an event inside one package version, or null when it is not declared there. */
  async routeIn(v: PackageVersion, event: string): Promise<EventRoute | null> {
    for (const job of v.package.jobs) {
      const candidates: [EventDef | undefined, JobDef | undefined][] = [
        [job.event, job],
        [job.result?.ok, undefined],
        [job.result?.error, undefined],
      ];
      for (const [def, owner] of candidates) {
        if (def?.id !== event) continue;
        const sha = v.files[def.schema.schemaref];
        const validate = await this.schemas.get(sha, def.schema.schemaref);
        return {
          tenant: v.tenant,
          package: v.id,
          version: v.version,
          event: def,
          job: owner,
          validate,
        };
      }
    }
    return null;
  }

  /** An immutable package version (cached). */
  version(
    tenant: string,
    pkg: string,
    version: number,
  ): Promise<PackageVersion | null> {
    const k = `${tenant}\u0000${pkg}\u0000${version}`;
    let v = this.#versions.get(k);
    if (!v) {
      v = this.store.version(tenant, pkg, version);
      v.then(
        (x) => x ?? this.#versions.delete(k),
        () => this.#versions.delete(k),
      );
      this.#versions.set(k, v);
    }
    return v;
  }
}
