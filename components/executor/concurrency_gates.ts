/**
 * The concurrency limits of job packages as goico queue gates (see
 * goico/queue_gates.ts): which gates an item must pass before it is leased.
 *
 * - An event's `concurrency` is one gate per value of its key (or one for
 *   the event when it has no key), named
 *   `{tenant}/{package}/e/{event}={value}`; items where the key path finds
 *   nothing share `{tenant}/{package}/e/{event}!`. A value longer than
 *   MAX_KEY_TEXT characters (a huge string or object) is named by its
 *   SHA-256, so a gate's name stays short whatever the item holds.
 * - A runtime's `concurrency` is one gate, `{tenant}/{package}/r/{runtime}`.
 * - A tenant's `maxConcurrency` (its policy's quotas, 0: none) is one gate,
 *   `{tenant}//tenant`, that every item of the tenant holds. The limit is
 *   read through `tenantLimit` and kept for TENANT_LIMIT_TTL_MS, so a
 *   change of policy holds from the next lease after that at the latest.
 *
 * The limits are those of the version the item was accepted under. The
 * gates are counters in the store, so the limits hold across every
 * process that runs the queue. In a process, a lane whose items wait for a
 * gate looks again when a lane of this process gives a gate back
 * (`released`), or after `pollMs` (a gate another process gives back).
 */
import {
  type DurableQueue,
  type Gate,
  type GatedPick,
  type QueuedItem,
  sha256HexNow,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import {
  compileKeyPath,
  type ConcurrencyDef,
  type KeyPath,
  keyText,
  keyValueOf,
} from "../model/concurrency.ts";
import type { Definitions } from "../packages/definitions.ts";

type Item = QueuedItem<EventItem>;

/** Key values longer than this are named by their SHA-256. */
export const MAX_KEY_TEXT = 128;
/** What limits an event of a version: its own, and its runtime's gate. */
interface Spec {
  event?: ConcurrencyDef;
  runtime?: Gate;
}

/** How long a tenant's `maxConcurrency` is kept before it is read again. */
export const TENANT_LIMIT_TTL_MS = 1_000;
/** Tenants whose limit is kept, at most. */
const MAX_TENANT_LIMITS = 10_000;

/** The gate every item of a tenant holds under its `maxConcurrency`. */
export function tenantGateName(tenant: string): string {
  return `${tenant}//tenant`;
}

/** Versions' events whose limits are kept, at most (they never change). */
const MAX_SPECS = 10_000;
/** Key paths compiled and kept, at most. */
const MAX_PATHS = 1_000;

/** The gate name of a key value (see the header). */
export function keyGateName(prefix: string, value: unknown): string {
  const text = keyText(value);
  if (text === null) return `${prefix}!`;
  return text.length <= MAX_KEY_TEXT
    ? `${prefix}=${text}`
    : `${prefix}#${sha256HexNow(text)}`;
}

/** The key of an item's version and event in the kept specs. */
function specKey(ev: EventItem): string {
  return `${ev.tenant}\u0000${ev.package}\u0000${ev.version}\u0000${ev.event}`;
}

export class ConcurrencyGates {
  readonly #paths = new Map<string, KeyPath>();
  readonly #specs = new Map<string, Promise<Spec | null>>();
  /** The specs of #specs once loaded, read without waiting. */
  readonly #loaded = new Map<string, Spec | null>();
  readonly #listeners = new Set<() => void>();
  readonly #tenantLimits = new Map<
    string,
    { at: number; limit: Promise<number>; value?: number }
  >();

  /**
   * `tenantLimit` gives a tenant's `maxConcurrency` (0: no limit); without
   * it, tenants have none.
   */
  constructor(
    private readonly definitions: Definitions,
    private readonly queue: DurableQueue<EventItem>,
    private readonly tenantLimit?: (tenant: string) => Promise<number>,
  ) {}

  /** The gates an item must pass (none when no limit applies to it). */
  async gatesOf(item: Item): Promise<Gate[]> {
    const ev = item.value;
    const [spec, tenantMax] = await Promise.all([
      this.#spec(ev),
      this.#tenantMax(ev.tenant),
    ]);
    return this.#gates(ev, spec, tenantMax);
  }

  /** The gates of an item when its limits are known already (undefined: not yet). */
  #gatesNow(item: Item): Gate[] | undefined {
    const ev = item.value;
    const spec = this.#loaded.get(specKey(ev));
    if (spec === undefined) return undefined;
    let tenantMax = 0;
    if (this.tenantLimit) {
      const kept = this.#tenantLimits.get(ev.tenant);
      if (
        kept?.value === undefined || Date.now() - kept.at >= TENANT_LIMIT_TTL_MS
      ) return undefined;
      tenantMax = kept.value;
    }
    return this.#gates(ev, spec, tenantMax);
  }

  #gates(ev: EventItem, spec: Spec | null, tenantMax: number): Gate[] {
    const gates: Gate[] = [];
    if (tenantMax > 0) {
      gates.push({ name: tenantGateName(ev.tenant), limit: tenantMax });
    }
    if (!spec) return gates;
    const { event: c, runtime } = spec;
    if (c) {
      const prefix = `${ev.tenant}/${ev.package}/e/${ev.event}`;
      gates.push({
        name: c.key === undefined
          ? prefix
          : keyGateName(prefix, keyValueOf(ev.data, this.#path(c.key))),
        limit: c.limit,
      });
    }
    if (runtime) gates.push(runtime);
    return gates;
  }

  /** The tenant's `maxConcurrency`, kept for TENANT_LIMIT_TTL_MS (0: none). */
  #tenantMax(tenant: string): Promise<number> {
    if (!this.tenantLimit) return Promise.resolve(0);
    const now = Date.now();
    const kept = this.#tenantLimits.get(tenant);
    if (kept && now - kept.at < TENANT_LIMIT_TTL_MS) return kept.limit;
    const limit = this.tenantLimit(tenant);
    if (this.#tenantLimits.size >= MAX_TENANT_LIMITS) {
      this.#tenantLimits.clear();
    }
    const entry: { at: number; limit: Promise<number>; value?: number } = {
      at: now,
      limit,
    };
    this.#tenantLimits.set(tenant, entry);
    limit.then((n) => entry.value = n, () => {
      if (this.#tenantLimits.get(tenant) === entry) {
        this.#tenantLimits.delete(tenant);
      }
    });
    return limit;
  }

  /** The limits of an item's event and runtime in its version (kept per version). */
  #spec(ev: EventItem): Promise<Spec | null> {
    const k = specKey(ev);
    let spec = this.#specs.get(k);
    if (!spec) {
      const loading = spec = this.#load(ev);
      loading.then((s) => {
        if (this.#specs.get(k) === loading) this.#loaded.set(k, s);
      }, () => {
        if (this.#specs.get(k) === loading) this.#specs.delete(k);
      });
      if (this.#specs.size >= MAX_SPECS) {
        this.#specs.clear();
        this.#loaded.clear();
      }
      this.#specs.set(k, spec);
    }
    return spec;
  }

  async #load(ev: EventItem): Promise<Spec | null> {
    const v = await this.definitions.version(ev.tenant, ev.package, ev.version);
    if (!v) return null;
    const route = await this.definitions.routeIn(v, ev.event);
    if (!route) return null;
    const rt = v.package.runtimes.find((r) => r.id === route.event.runtime);
    const spec: Spec = {
      ...(route.event.concurrency && { event: route.event.concurrency }),
      ...(rt?.concurrency !== undefined && {
        runtime: {
          name: `${ev.tenant}/${ev.package}/r/${rt.id}`,
          limit: rt.concurrency,
        },
      }),
    };
    return spec.event || spec.runtime ? spec : null;
  }

  /**
   * Of entries read at a queue's head, those that may be leased now under
   * their gates, at most `max`, in order (see `DurableQueue.pickGated`).
   */
  async pick(
    entries: Deno.KvEntry<Item>[],
    max: number,
  ): Promise<GatedPick<EventItem>> {
    const gates = new Map<Item, Gate[]>();
    const loading: Promise<unknown>[] = [];
    let gated = false;
    for (const e of entries) {
      const now = this.#gatesNow(e.value);
      if (now) {
        gates.set(e.value, now);
        if (now.length > 0) gated = true;
      } else {
        loading.push(
          this.gatesOf(e.value).then((g) => {
            gates.set(e.value, g);
            if (g.length > 0) gated = true;
          }),
        );
      }
    }
    if (loading.length > 0) await Promise.all(loading);
    // No limit applies to any: the head as it is, no counter read.
    if (!gated) {
      return {
        take: entries.slice(0, max),
        holds: new Map(),
        blocked: 0,
        waiting: new Map(),
      };
    }
    return this.queue.pickGated(entries, (it) => gates.get(it) ?? [], max);
  }

  /** Calls `fn` whenever `released` is; returns the function that stops it. */
  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** A lane of this process gave gates back: lanes waiting for one look again. */
  released(): void {
    for (const fn of this.#listeners) fn();
  }

  #path(key: string): KeyPath {
    let path = this.#paths.get(key);
    if (!path) {
      // Checked when the package was deployed.
      path = compileKeyPath(key);
      if (this.#paths.size >= MAX_PATHS) this.#paths.clear();
      this.#paths.set(key, path);
    }
    return path;
  }
}
