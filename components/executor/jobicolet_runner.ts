/**
 * Runs events through Jobicolets (docs/jobicolet-abi.md) in the sandbox pool:
 * each module is metered (an instruction budget, a cap on what it
 * allocates and an interrupt hook for its deadline injected into it) and
 * compiled once per content hash and limits, then sent to a Worker that
 * has no Deno permissions, where a warm instance serves call after call of
 * the same tenant, module, limits and function until it traps or is
 * evicted. Instances are never shared between tenants: two tenants that
 * upload the same bytes get instances of their own.
 */
import {
  type CallResult,
  MemoryLimitError,
  meterFuel,
  ModuleCache,
  type PoolCall,
  type WasmGuestOptions,
  type WasmPool,
} from "@jobico/goico";
import type { Limits } from "../model/runtime_limits.ts";
import { type ExecutionLog, levelName } from "../executions/execution.ts";

/** The limits of one execution (retries are the executor's business). */
export type RunLimits = Omit<Limits, "retries">;

export interface JobicoletRunnerOptions {
  pool: WasmPool;
  modules?: ModuleCache;
}

export interface RunOutcome {
  status: "ok" | "error" | "failed";
  code: number | null;
  result: string | null;
  error: string | null;
  logs: ExecutionLog[];
}

export interface RunResult extends RunOutcome {
  /** Instructions the call used, when it returned. */
  fuelUsed?: number;
  /**
   * Resolves when the Worker that ran the call is free again: at once,
   * except after a timeout, when the module keeps its core until its
   * instruction budget stops it.
   */
  settled: Promise<void>;
}

const PAGES_PER_MIB = 16;

export class JobicoletRunner {
  readonly modules: ModuleCache;
  readonly #pool: WasmPool;

  /** `load` fetches a module's bytes by content hash. */
  constructor(
    private readonly load: (sha256: string) => Promise<Uint8Array>,
    options: JobicoletRunnerOptions,
  ) {
    this.#pool = options.pool;
    this.modules = options.modules ?? new ModuleCache();
  }

  /**
   * Stops every execution under way and not yet started, for a shutdown:
   * they are not reported, so their events run again later.
   */
  cancelAll(): void {
    this.#pool.cancelAll();
  }

  /** Runs one event of `tenant`. Never throws: every failure is an outcome. */
  async run(
    tenant: string,
    sha256: string,
    mainFunction: string,
    input: Uint8Array,
    limits: RunLimits,
  ): Promise<RunResult> {
    let outcome: RunOutcome | undefined;
    const { settled } = await this.runBatch(
      [{ tenant, sha256, mainFunction, input, limits }],
      (_, o) => outcome = o,
    );
    return { ...outcome!, settled };
  }

  /**
   * Runs jobs in order on one sandbox Worker (one message for all of them)
   * and reports each outcome through `onOutcome` as soon as it is known.
   * A job given as `{failure}` is reported as failed without running. When
   * a job times out the jobs after it are not run: `ran` says how many
   * were reported. Never throws.
   */
  async runBatch(
    jobs: RunJob[],
    onOutcome: (
      index: number,
      outcome: RunOutcome & { fuelUsed?: number },
    ) => void,
  ): Promise<{ ran: number; settled: Promise<void> }> {
    const calls: (PoolCall | string)[] = [];
    for (const job of jobs) {
      if ("failure" in job) {
        calls.push(job.failure);
        continue;
      }
      const { tenant, sha256, mainFunction, limits } = job;
      const fuel = BigInt(limits.fuel);
      const memoryLimitPages = limits.memoryMb * PAGES_PER_MIB;
      const moduleKey = `${sha256}:${limits.memoryMb}`;
      try {
        const module = await this.modules.get(
          moduleKey,
          async () =>
            meterFuel(await this.load(sha256), {
              memoryLimitPages,
              interrupt: true,
            }),
        );
        const guest: WasmGuestOptions = {
          mainFunction,
          fuel,
          memoryLimitPages,
          maxSleepMs: limits.timeoutMs,
          maxOutputBytes: limits.outputKb * 1024,
        };
        calls.push({
          // Per tenant: an instance keeps state from call to call.
          key:
            `${tenant}\u0000${moduleKey}:${limits.fuel}\u0000${mainFunction}`,
          module,
          guest,
          input: job.input,
          timeoutMs: limits.timeoutMs,
        });
      } catch (err) {
        calls.push(loadFailure(err as Error, limits));
      }
    }
    // Consecutive runnable calls go to the pool together; failures are
    // reported in their place.
    let settled = Promise.resolve();
    let i = 0;
    while (i < calls.length) {
      const c = calls[i];
      if (typeof c === "string") {
        onOutcome(i, failedOutcome(c));
        i++;
        continue;
      }
      let end = i;
      while (end < calls.length && typeof calls[end] !== "string") end++;
      const segment = calls.slice(i, end) as PoolCall[];
      const from = i;
      let batch;
      try {
        batch = await this.#pool.runBatch(
          segment,
          (k, r) => onOutcome(from + k, outcomeOf(r)),
        );
      } catch {
        // The pool is closed: the rest is not run.
        return { ran: i, settled };
      }
      settled = batch.settled;
      if (batch.ran < segment.length) return { ran: from + batch.ran, settled };
      i = end;
    }
    return { ran: calls.length, settled };
  }
}

/** One job of a batch: a module to run, or a failure found before running. */
export type RunJob =
  | {
    /** Whose event it is: instances are kept per tenant. */
    tenant: string;
    sha256: string;
    mainFunction: string;
    input: Uint8Array;
    limits: RunLimits;
  }
  | { failure: string };

function outcomeOf(r: CallResult): RunOutcome & { fuelUsed?: number } {
  const out = r.outcome;
  const logs = out.logs.map((l) => ({
    level: levelName(l.level),
    message: l.message,
    source: l.source,
  }));
  const fuelUsed = r.fuelUsed === undefined ? undefined : Number(r.fuelUsed);
  if (!out.ok) return { ...failedOutcome(out.reason, logs), fuelUsed };
  const code = Number(out.code);
  return {
    status: code === 0 ? "ok" : "error",
    code,
    result: out.result,
    error: null,
    logs,
    fuelUsed,
  };
}

function loadFailure(err: Error, limits: RunLimits): string {
  if (err instanceof MemoryLimitError) {
    return `memory limit exceeded: ${err.message} (memorymb ${limits.memoryMb})`;
  }
  return `Loading the module failed: ${err.message}`;
}

/** The outcome of an execution that failed before or outside the module. */
export function failedOutcome(
  reason: string,
  logs: ExecutionLog[] = [],
): RunOutcome {
  return { status: "failed", code: null, result: null, error: reason, logs };
}
