/**
 * The dashboard's data: what it knows of the platform, kept current by the
 * recorder's SSE streams (one per tenant) and by a modest, debounced refresh
 * of the numbers no stream carries (queue counters, health). Components read
 * immutable snapshots through `subscribe`/`snapshot`
 * (React's `useSyncExternalStore`).
 */
import type {
  DelayedEvent,
  Execution,
  FileInfo,
  Health,
  Meta,
  PackageSummary,
  QueueInfo,
  QueueLimits,
  Schedule,
} from "../api_types.ts";
import { abortableSleep } from "@jobico/goico";
import { ApiError, type JobicoClient } from "../client.ts";
import { type ModuleInfo, moduleInfo } from "../module_info.ts";

/** What the dashboard knows of one tenant. */
export interface TenantData {
  id: string;
  packages?: PackageSummary[];
  files?: FileInfo[];
  queues?: QueueInfo[];
  /**
   * The first delayed events of each queue that has some (by queue id),
   * which the `x` key cancels.
   */
  delayed?: Record<string, DelayedEvent[]>;
  /**
   * The flow limits of each queue's events and their use now (by queue
   * id; the first MAX_LIMIT_QUEUES queues), shown in a queue's detail.
   */
  limits?: Record<string, QueueLimits>;
  /** The tenant's scheduled events, shown in their queue's detail. */
  schedules?: Schedule[];
  /**
   * Why the last load of some of its data failed (each part that failed,
   * named); the parts that loaded are kept.
   */
  error?: string;
  /** Why each part (packages, files, queues) failed to load, when it did. */
  failed?: Failures;
  /** Whether its execution stream is open now. */
  live: boolean;
  /** Whether the dashboard follows its executions at all (see `maxStreams`). */
  streamed: boolean;
}

/** Why parts of a tenant's data (packages, files, queues) failed to load. */
export type Failures = Partial<Record<"packages" | "files" | "queues", string>>;

/** `failed` and the one-line `error` naming each failed part; both absent when none failed. */
function withFailures(failed: Failures): Pick<TenantData, "failed" | "error"> {
  const named = Object.entries(failed).map(([part, why]) => `${part}: ${why}`);
  return named.length
    ? { failed, error: named.join("; ") }
    : { failed: undefined, error: undefined };
}

/** Something loaded on demand (a package's YAML, a file's bytes). */
export type Loadable<T> =
  | { state: "loading" }
  | { state: "ok"; value: T }
  | { state: "error"; message: string };

/** A file's content as the dashboard shows it. */
export type FileContent =
  | { kind: "schema"; text: string; json: boolean }
  | { kind: "wasm"; summary: ModuleInfo }
  | { kind: "other"; size: number };

/** One immutable view of the data. */
export interface DashboardState {
  url: string;
  /** `admin`, or `tenant <id>`, once known. */
  principal?: string;
  health?: Health;
  meta?: Meta;
  /** Why the platform could not be reached, if it could not. */
  healthError?: string;
  /** Why the tenants could not be listed, if they could not. */
  error?: string;
  /** What the last action (cancel, re-run) did, or why it failed. */
  notice?: { text: string; ok: boolean };
  loading: boolean;
  tenants: TenantData[];
  /** Executions seen, newest first, at most `maxExecutions`. */
  executions: Execution[];
  /** Package sources and file contents loaded so far, by key. */
  details: Readonly<Record<string, Loadable<unknown>>>;
}

/** Options of {@linkcode DashboardModel}. */
export interface DashboardModelOptions {
  client: JobicoClient;
  /** How often health and queue counters are refreshed. Default 10 s. */
  refreshMs?: number;
  /** Tenants, packages and files are reloaded every this many refreshes. Default 3. */
  reloadEvery?: number;
  /** Delay of a tenant's queue refresh after its executions. Default 500 ms. */
  queueDebounceMs?: number;
  /** Most executions kept. Default 200. */
  maxExecutions?: number;
  /** Most tenants whose executions are streamed. Default 16. */
  maxStreams?: number;
  /** Executions fetched per tenant on start. Default 20. */
  backfill?: number;
}

const MAX_BACKOFF_MS = 30_000;
/** Delayed events shown per queue. */
const MAX_DELAYED = 50;
/** Queues of a tenant whose limits are loaded, at most (one request each). */
const MAX_LIMIT_QUEUES = 20;

/** Where a package version's source is in `DashboardState.details`. */
export function packageKey(tenant: string, id: string, version: number) {
  return `package:${tenant}/${id}@${version}`;
}

/** Where a file's content is in `DashboardState.details`. */
export function fileKey(tenant: string, file: FileInfo): string {
  return `file:${tenant}/${file.name}@${file.sha256}`;
}

export class DashboardModel {
  readonly #client: JobicoClient;
  readonly #opts: Required<Omit<DashboardModelOptions, "client">>;
  readonly #ctrl = new AbortController();
  readonly #listeners = new Set<() => void>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #queueTimers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #streams = new Set<string>();
  readonly #tasks = new Set<Promise<unknown>>();
  #state: DashboardState;
  #ticks = 0;
  #reloading?: Promise<void>;

  constructor(options: DashboardModelOptions) {
    this.#client = options.client;
    this.#opts = {
      refreshMs: options.refreshMs ?? 10_000,
      reloadEvery: options.reloadEvery ?? 3,
      queueDebounceMs: options.queueDebounceMs ?? 500,
      maxExecutions: options.maxExecutions ?? 200,
      maxStreams: options.maxStreams ?? 16,
      backfill: options.backfill ?? 20,
    };
    this.#state = {
      url: options.client.url,
      loading: true,
      tenants: [],
      executions: [],
      details: {},
    };
  }

  /** Registers a listener of changes; returns its removal. */
  subscribe = (listener: () => void): () => void => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** The current state (a new object after each change). */
  snapshot = (): DashboardState => this.#state;

  /**
   * Loads everything, opens the streams and starts the periodic refresh;
   * resolves when the first load is done (the streams go on).
   */
  start(): Promise<void> {
    const interval = setInterval(() => this.#tick(), this.#opts.refreshMs);
    this.#timers.add(interval);
    const work = (async () => {
      await Promise.all([this.#loadPrincipal(), this.refreshHealth()]);
      await this.reload();
    })();
    this.#track(work);
    return work;
  }

  /** Stops the streams and timers; resolves when background work has ended. */
  async close(): Promise<void> {
    this.#ctrl.abort();
    for (const t of this.#timers) clearTimeout(t);
    for (const t of this.#queueTimers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#queueTimers.clear();
    this.#listeners.clear();
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  get closed(): boolean {
    return this.#ctrl.signal.aborted;
  }

  /** Reloads everything now (the `r` key). */
  refresh(): void {
    if (this.closed) return;
    this.#track(this.refreshHealth());
    this.#track(this.reload());
  }

  /** Reloads tenants and their packages, files and queues. */
  reload(): Promise<void> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(): Promise<void> {
    if (this.closed) return;
    let ids: string[];
    try {
      ids = (await this.#client.listTenants()).map((t) => t.id).sort();
    } catch (error) {
      this.#set({ loading: false, error: describe(error) });
      return;
    }
    const old = new Map(this.#state.tenants.map((t) => [t.id, t]));
    const tenants = ids.map((id, i): TenantData =>
      old.get(id) ?? { id, live: false, streamed: i < this.#opts.maxStreams }
    );
    this.#set({ tenants, error: undefined });
    await Promise.all(tenants.map((t) => this.#loadTenant(t.id)));
    this.#set({ loading: false });
    for (const t of this.#state.tenants) {
      if (t.streamed && !this.#streams.has(t.id)) {
        this.#track(this.#follow(t.id));
      }
    }
  }

  /** Refreshes `/healthz` and `/meta`. */
  async refreshHealth(): Promise<void> {
    try {
      const [health, meta] = await Promise.all([
        this.#client.health(),
        this.#client.meta(),
      ]);
      this.#set({ health, meta, healthError: undefined });
    } catch (error) {
      if (this.closed) return;
      this.#set({ health: undefined, healthError: describe(error) });
    }
  }

  /** Refreshes one tenant's queue counters (and delayed events). */
  async refreshQueues(tenant: string): Promise<void> {
    try {
      const queues = await this.#client.listQueues(tenant);
      this.#updateTenant(tenant, {
        queues,
        ...await this.#queueExtras(tenant, queues),
        ...this.#queuesFailed(tenant, undefined),
      });
    } catch (error) {
      if (this.closed) return;
      this.#updateTenant(
        tenant,
        this.#queuesFailed(tenant, describe(error)),
      );
    }
  }

  /** The delayed events and the limits of a tenant's queues. */
  async #queueExtras(
    tenant: string,
    queues: QueueInfo[],
  ): Promise<Pick<TenantData, "delayed" | "limits" | "schedules">> {
    const [delayed, limits, schedules] = await Promise.all([
      this.#delayed(tenant, queues),
      this.#limits(tenant, queues),
      // An older platform without the route: no schedules shown.
      this.#client.listSchedules(tenant).then(
        (l) => l.schedules,
        () => undefined,
      ),
    ]);
    return { delayed, limits, schedules };
  }

  /** Each queue's flow limits; a queue whose limits fail is left out. */
  async #limits(
    tenant: string,
    queues: QueueInfo[],
  ): Promise<Record<string, QueueLimits>> {
    const out: Record<string, QueueLimits> = {};
    await Promise.all(
      queues.slice(0, MAX_LIMIT_QUEUES).map(async (q) => {
        try {
          out[q.id] = await this.#client.queueLimits(tenant, q.id);
        } catch {
          // An older platform without the route: no limits shown.
        }
      }),
    );
    return out;
  }

  /**
   * The first delayed events of each queue that may hold some (its
   * `delayed` counts retries too); a queue whose list fails is left out.
   */
  async #delayed(
    tenant: string,
    queues: QueueInfo[],
  ): Promise<Record<string, DelayedEvent[]>> {
    const out: Record<string, DelayedEvent[]> = {};
    await Promise.all(
      queues.filter((q) => q.delayed > 0).map(async (q) => {
        try {
          const page = await this.#client.listDelayed(tenant, q.id, {
            limit: MAX_DELAYED,
          });
          if (page.delayed.length > 0) out[q.id] = page.delayed;
        } catch {
          // An older platform without the route: no delayed events shown.
        }
      }),
    );
    return out;
  }

  /** Cancels a delayed event (the `x` key); says how it went in `notice`. */
  async cancel(tenant: string, item: DelayedEvent): Promise<void> {
    try {
      await this.#client.cancelEvent(tenant, item.event, item.id);
      this.#set({
        notice: { text: `Cancelled ${item.event} ${item.id}`, ok: true },
      });
    } catch (error) {
      this.#set({
        notice: { text: `Cancel failed: ${describe(error)}`, ok: false },
      });
    }
    await this.refreshQueues(tenant);
  }

  /** Re-runs an execution with its input (the `R` key); says how in `notice`. */
  async rerun(execution: Execution): Promise<void> {
    try {
      const res = await this.#client.rerunExecution(
        execution.tenant,
        execution.id,
      );
      this.#set({
        notice: {
          text: `Re-running ${execution.id} as event ${res.ids[0]}`,
          ok: true,
        },
      });
    } catch (error) {
      this.#set({
        notice: { text: `Re-run failed: ${describe(error)}`, ok: false },
      });
    }
  }

  /** Starts loading a package's deployed source, once per version. */
  loadPackage(tenant: string, id: string, version: number): void {
    this.#load(
      packageKey(tenant, id, version),
      () => this.#client.getPackage(tenant, id),
    );
  }

  /** Starts loading a file's content, once per content (sha-256). */
  loadFile(tenant: string, file: FileInfo): void {
    this.#load(fileKey(tenant, file), async (): Promise<FileContent> => {
      const bytes = await this.#client.getFile(tenant, file.name);
      if (file.kind === "wasm") {
        return { kind: "wasm", summary: await moduleInfo(bytes) };
      }
      if (file.kind === "schema") {
        const text = new TextDecoder().decode(bytes);
        try {
          return {
            kind: "schema",
            text: JSON.stringify(JSON.parse(text), null, 2),
            json: true,
          };
        } catch {
          return { kind: "schema", text, json: false };
        }
      }
      return { kind: "other", size: bytes.length };
    });
  }

  #load<T>(key: string, loader: () => Promise<T>): void {
    const known = this.#state.details[key];
    if (known && known.state !== "error") return;
    this.#setDetail(key, { state: "loading" });
    this.#track(
      loader().then(
        (value) => this.#setDetail(key, { state: "ok", value }),
        (error) =>
          this.#setDetail(key, { state: "error", message: describe(error) }),
      ),
    );
  }

  #setDetail(key: string, value: Loadable<unknown>): void {
    if (this.closed) return;
    this.#set({ details: { ...this.#state.details, [key]: value } });
  }

  async #loadPrincipal(): Promise<void> {
    try {
      const who = await this.#client.whoami();
      this.#set({
        principal: who.principal === "admin" ? "admin" : `tenant ${who.tenant}`,
      });
    } catch {
      // The tenants list reports the same problem.
    }
  }

  /**
   * Loads a tenant's packages, files and queues: each part that loads is
   * shown, whichever others fail (a component another process runs, a
   * route an older platform lacks), and each failure is named.
   */
  async #loadTenant(id: string): Promise<void> {
    const parts = ["packages", "files", "queues"] as const;
    const results = await Promise.allSettled([
      this.#client.listPackages(id),
      this.#client.listFiles(id),
      this.#client.listQueues(id),
    ]);
    if (this.closed) return;
    const update: Partial<TenantData> = {};
    const failed: Failures = {};
    results.forEach((r, i) => {
      const part = parts[i];
      if (r.status === "fulfilled") {
        (update as Record<string, unknown>)[part] = r.value;
      } else failed[part] = describe(r.reason);
    });
    if (update.queues) {
      Object.assign(update, await this.#queueExtras(id, update.queues));
    }
    this.#updateTenant(id, { ...update, ...withFailures(failed) });
  }

  /** A tenant's failures after its queues reloaded (`why` they failed, if they did). */
  #queuesFailed(
    tenant: string,
    why: string | undefined,
  ): Pick<TenantData, "failed" | "error"> {
    const before = this.#state.tenants.find((t) => t.id === tenant)?.failed;
    const { queues: _, ...others } = before ?? {};
    return withFailures(
      why === undefined ? others : { ...others, queues: why },
    );
  }

  #tick(): void {
    this.#ticks++;
    this.#track(this.refreshHealth());
    if (this.#ticks % this.#opts.reloadEvery === 0) {
      this.#track(this.reload());
    } else {
      for (const t of this.#state.tenants) {
        this.#track(this.refreshQueues(t.id));
      }
    }
  }

  /** Follows a tenant's executions until closed, reconnecting with backoff. */
  async #follow(tenant: string): Promise<void> {
    this.#streams.add(tenant);
    const signal = this.#ctrl.signal;
    let backoff = 1000;
    const known = () => this.#state.tenants.some((t) => t.id === tenant);
    while (!signal.aborted && known()) {
      try {
        const stream = await this.#client.streamExecutions(tenant, { signal });
        this.#updateTenant(tenant, { live: true });
        backoff = 1000;
        // What ran before the stream opened (or while it was down).
        this.#track(this.#backfill(tenant));
        for await (const execution of stream) {
          this.#addExecutions([execution]);
          this.#refreshQueuesSoon(tenant);
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ApiError && error.status === 404) {
          // The tenant was deleted; the next reload drops it.
          this.#updateTenant(tenant, { live: false });
          break;
        }
      }
      this.#updateTenant(tenant, { live: false });
      await this.#sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
    this.#streams.delete(tenant);
  }

  async #backfill(tenant: string): Promise<void> {
    try {
      const page = await this.#client.listExecutions(tenant, {
        limit: this.#opts.backfill,
      });
      this.#addExecutions(page.executions);
    } catch {
      // The stream still brings new ones.
    }
  }

  #addExecutions(list: Execution[]): void {
    if (this.closed || list.length === 0) return;
    const seen = new Set(this.#state.executions.map((e) => e.id));
    const fresh = list.filter((e) => !seen.has(e.id));
    if (fresh.length === 0) return;
    const executions = [...fresh, ...this.#state.executions]
      .sort((a, b) => a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
      .slice(0, this.#opts.maxExecutions);
    this.#set({ executions });
  }

  /** A queue refresh after a burst of executions, not one per execution. */
  #refreshQueuesSoon(tenant: string): void {
    if (this.#queueTimers.has(tenant) || this.closed) return;
    const timer = setTimeout(() => {
      this.#queueTimers.delete(tenant);
      this.#track(this.refreshQueues(tenant));
    }, this.#opts.queueDebounceMs);
    this.#queueTimers.set(tenant, timer);
  }

  /** Waits `ms`, or until `close`. */
  #sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.#ctrl.signal);
  }

  /** Runs background work so that `close` can wait for it. */
  #track(work: Promise<unknown>): void {
    const task = work.catch(() => {}).finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  #updateTenant(id: string, patch: Partial<TenantData>): void {
    const tenants = this.#state.tenants.map((t) =>
      t.id === id ? { ...t, ...patch } : t
    );
    this.#set({ tenants });
  }

  #set(patch: Partial<DashboardState>): void {
    if (this.closed) return;
    this.#state = { ...this.#state, ...patch };
    for (const listener of this.#listeners) listener();
  }
}

function describe(error: unknown): string {
  if (error instanceof ApiError) {
    return `${error.message} (HTTP ${error.status})`;
  }
  return error instanceof Error ? error.message : String(error);
}
