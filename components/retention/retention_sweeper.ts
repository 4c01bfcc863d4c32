/**
 * Enforces the retention policy: a pass goes through every tenant and
 * removes the executions older than its `retention.days` or beyond its
 * newest `retention.executions`, the package versions beyond its
 * `retention.versions` that no queued event pins, and then the blobs that
 * no tenant uses any more.
 *
 * One process sweeps at a time, whichever holds the lease in the store
 * (every removal checks it). A pass does bounded work: at most `maxPerPass`
 * removals, in atomics of at most `batch`; a pass that stopped at its bound
 * is followed by the next one a second later, starting with the tenant it
 * stopped at (the position is kept in the store, so it survives restarts
 * and moves with the lease).
 */
import type { SweepReport } from "../../api/mod.ts";
import {
  abortableSleep,
  KvLease,
  type LeaseValue,
  type Logger,
  silentLogger,
} from "@jobico/goico";
import { keys } from "../model/keys.ts";
import type { ExecutionStore } from "../executions/execution_store.ts";
import type { UsageLedger } from "../repo/usage_ledger.ts";
import type { TenantPolicies } from "../tenants/tenant_policies.ts";
import { sweepVersions } from "./sweep_versions.ts";

export interface RetentionSweeperOptions {
  kv: Deno.Kv;
  executions: ExecutionStore;
  ledger: UsageLedger;
  policies: TenantPolicies;
  logger?: Logger;
  /** How often a pass starts. Default 60 s. */
  intervalMs?: number;
  /** Removals of one pass, at most. Default 20,000. */
  maxPerPass?: number;
  /** Removals of one atomic, at most (KV allows 1,000 mutations). Default 500. */
  batch?: number;
  /** A version goes only once the next one has been current this long. Default 60 s. */
  versionGraceMs?: number;
  /** How long the lease lasts unless renewed. Default 30 s. */
  leaseMs?: number;
  /** Names this process in the lease. Default: the host name and the process id. */
  holder?: string;
  now?: () => number;
}

/** What one pass did (the API's `SweepReport`). */
export type { SweepReport };

/** What the store keeps of the sweeper. */
export interface SweeperState {
  /** The tenant the next pass starts after. */
  cursor?: string;
  last?: SweepReport;
  /** Removals since the store was made. */
  totals: { executions: number; versions: number; blobs: number };
}

const DAY_MS = 24 * 60 * 60 * 1000;

export class RetentionSweeper {
  readonly #o:
    & Required<
      Omit<RetentionSweeperOptions, "logger" | "holder" | "now">
    >
    & { logger: Logger; now: () => number };
  readonly #lease: KvLease;
  /** The first pass of this process goes through every tenant's versions. */
  #firstPass = true;
  /** This process's last pass (one that removed nothing is not stored). */
  #checked: SweepReport | null = null;

  constructor(options: RetentionSweeperOptions) {
    this.#o = {
      kv: options.kv,
      executions: options.executions,
      ledger: options.ledger,
      policies: options.policies,
      logger: options.logger ?? silentLogger,
      intervalMs: options.intervalMs ?? 60_000,
      maxPerPass: options.maxPerPass ?? 20_000,
      batch: options.batch ?? 500,
      versionGraceMs: options.versionGraceMs ?? 60_000,
      leaseMs: options.leaseMs ?? 30_000,
      now: options.now ?? Date.now,
    };
    this.#lease = new KvLease(options.kv, keys.retention("lease"), {
      holder: options.holder ?? defaultHolder(),
      ttlMs: this.#o.leaseMs,
      now: this.#o.now,
    });
  }

  /** How often a pass starts. */
  get intervalMs(): number {
    return this.#o.intervalMs;
  }

  /**
   * Sweeps every `intervalMs` (a second after a pass that stopped at its
   * bound) until `signal` aborts. The first pass comes after one interval.
   */
  async run(signal: AbortSignal): Promise<void> {
    let wait = this.#o.intervalMs;
    while (!signal.aborted) {
      await abortableSleep(wait, signal);
      if (signal.aborted) break;
      let report: SweepReport | null = null;
      try {
        report = await this.pass();
      } catch (err) {
        this.#o.logger.error("retention sweep failed", { error: String(err) });
      }
      wait = report && !report.complete ? 1000 : this.#o.intervalMs;
    }
    await this.#lease.release().catch(() => {});
  }

  /**
   * One pass. It reads without the lease and takes it before its first
   * removal, so a pass with nothing to remove writes nothing. Returns null
   * when another process holds the lease.
   */
  async pass(): Promise<SweepReport | null> {
    try {
      return await this.#pass();
    } catch (err) {
      if (err instanceof LeaseTaken) return null;
      throw err;
    }
  }

  async #pass(): Promise<SweepReport> {
    const { kv, executions, ledger, policies } = this.#o;
    const started = this.#o.now();
    let wrote = false;
    const guard = async () => {
      if (!(await this.#lease.renew()) && !(await this.#lease.acquire())) {
        throw new LeaseTaken();
      }
      wrote = true;
      return [this.#lease.check()];
    };
    const stateEntry = await kv.get<SweeperState>(keys.retention("state"));
    const state: SweeperState = stateEntry.value ??
      { totals: { executions: 0, versions: 0, blobs: 0 } };
    const report: SweepReport = {
      at: new Date(started).toISOString(),
      holder: this.#lease.holder,
      ms: 0,
      tenants: 0,
      executions: 0,
      versions: 0,
      pinned: 0,
      blobs: 0,
      complete: true,
    };
    let budget = this.#o.maxPerPass;
    let cursor = state.cursor;
    for (const tenant of await this.#tenantsFrom(state.cursor)) {
      if (budget <= 0) {
        report.complete = false;
        break;
      }
      const now = this.#o.now();
      // A tenant that stored things before usage was kept is counted here.
      const usage = await ledger.find(tenant);
      const { retention } = await policies.get(tenant);
      const execs = await executions.sweep(tenant, {
        before: retention.days > 0 ? now - retention.days * DAY_MS : undefined,
        keep: retention.executions > 0 ? retention.executions : undefined,
        max: budget,
        batch: this.#o.batch,
        guard,
      });
      budget -= execs.deleted;
      report.executions += execs.deleted;
      let versionsDone = true;
      // Versions are looked at after a change (a deploy, a package deleted,
      // the tenant's retention set), and on a process's first pass when the
      // tenant has more than a package keeps (the defaults may have changed).
      if (
        usage &&
        ((usage.value.changes ?? 0) > (usage.value.swept ?? 0) ||
          (this.#firstPass && usage.value.versions > retention.versions))
      ) {
        const v = await sweepVersions({
          kv,
          ledger,
          tenant,
          keep: retention.versions,
          max: budget,
          graceMs: this.#o.versionGraceMs,
          now,
          guard,
        });
        budget -= v.deleted;
        report.versions += v.deleted;
        report.pinned += v.pinned;
        versionsDone = v.done;
      }
      report.tenants++;
      if (budget <= 0 && !(execs.done && versionsDone)) {
        // Stopped at the bound: the next pass begins with this tenant.
        report.complete = false;
        break;
      }
      cursor = tenant;
    }
    if (report.complete) {
      // Every tenant has been counted now, so every use of a blob is
      // recorded: the blobs nobody uses can go.
      const blobs = await ledger.collect({
        max: Math.max(budget, 100),
        guard,
      });
      report.blobs = blobs.collected;
      report.complete = blobs.done;
      this.#firstPass = false;
      cursor = undefined;
    }
    report.ms = this.#o.now() - started;
    this.#checked = report;
    // A pass that had nothing to do leaves the store as it was.
    if (!wrote && cursor === state.cursor) return report;
    await guard();
    const { cursor: _, ...rest } = state;
    const next: SweeperState = {
      ...rest,
      ...(cursor !== undefined && { cursor }),
      last: report,
      totals: {
        executions: state.totals.executions + report.executions,
        versions: state.totals.versions + report.versions,
        blobs: state.totals.blobs + report.blobs,
      },
    };
    await kv.atomic().check(this.#lease.check()).set(
      keys.retention("state"),
      next,
    ).commit();
    this.#o.logger.info("retention sweep", { ...report });
    return report;
  }

  /** This process's last pass (one that removed nothing is not stored). */
  get checked(): SweepReport | null {
    return this.#checked;
  }

  /** Every tenant, in name order, starting after `cursor` and wrapping around. */
  async #tenantsFrom(cursor: string | undefined): Promise<string[]> {
    const all: string[] = [];
    for await (const e of this.#o.kv.list({ prefix: keys.tenants() })) {
      all.push(e.key[1] as string);
    }
    if (cursor === undefined) return all;
    const at = all.findIndex((t) => t > cursor);
    return at === -1 ? all : [...all.slice(at), ...all.slice(0, at)];
  }
}

/** What `GET /api/v1/retention` says of the sweeper. */
export interface SweeperStatus extends SweeperState {
  /** The process that holds the lease now; null when none does. */
  holder: string | null;
  /** How often this process sweeps; null when it does not. */
  intervalMs: number | null;
  /** This process's last pass; null when it made none. */
  checked: SweepReport | null;
}

/**
 * What the store says of the sweeper (whichever process sweeps), with what
 * `local`, the sweeper of this process if any, adds.
 */
export async function sweeperStatus(
  kv: Deno.Kv,
  local?: RetentionSweeper,
  now: () => number = Date.now,
): Promise<SweeperStatus> {
  const [state, lease] = await kv.getMany<[SweeperState, LeaseValue]>([
    keys.retention("state"),
    keys.retention("lease"),
  ]);
  return {
    ...(state.value ?? { totals: { executions: 0, versions: 0, blobs: 0 } }),
    holder: lease.value && lease.value.until > now()
      ? lease.value.holder
      : null,
    intervalMs: local?.intervalMs ?? null,
    checked: local?.checked ?? null,
  };
}

/** Another process took the lease: this pass stops. */
class LeaseTaken extends Error {}

function defaultHolder(): string {
  let host = "localhost";
  try {
    host = Deno.hostname();
  } catch {
    // no --allow-sys=hostname
  }
  return `${host}:${Deno.pid}`;
}
