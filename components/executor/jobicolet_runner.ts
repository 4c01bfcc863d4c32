/**
 * Runs events through Jobicolets (jobicolet-abi.md) in the sandbox pool:
 * each module is metered (an instruction budget and a memory cap injected
 * into it) and compiled once per content hash and limits, then sent to a
 * Worker that has no Deno permissions, where a warm instance serves call
 * after call until it traps.
 */
import {
  meterFuel,
  ModuleCache,
  type WasmGuestOptions,
  type WasmPool,
} from "../../goico/mod.ts";
import type { Limits } from "../ctl/runtime_limits.ts";
import { type ExecutionLog, levelName } from "../recorder/execution.ts";

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

  /** Runs one event. Never throws: every failure is an outcome. */
  async run(
    sha256: string,
    mainFunction: string,
    input: Uint8Array,
    limits: RunLimits,
  ): Promise<RunResult> {
    const fuel = BigInt(limits.fuel);
    const memoryLimitPages = limits.memoryMb * PAGES_PER_MIB;
    const moduleKey = `${sha256}:${limits.memoryMb}:${limits.fuel}`;
    let module: WebAssembly.Module;
    try {
      module = await this.modules.get(
        moduleKey,
        async () =>
          meterFuel(await this.load(sha256), {
            initialFuel: fuel,
            memoryLimitPages,
          }),
      );
    } catch (err) {
      return {
        ...failedOutcome(loadFailure(err as Error, limits)),
        settled: Promise.resolve(),
      };
    }
    const guest: WasmGuestOptions = { mainFunction, fuel, memoryLimitPages };
    let r;
    try {
      r = await this.#pool.run({
        key: `${moduleKey}\u0000${mainFunction}`,
        module,
        guest,
        input,
        timeoutMs: limits.timeoutMs,
      });
    } catch (err) {
      return {
        ...failedOutcome(`Not run: ${(err as Error).message}`),
        settled: Promise.resolve(),
      };
    }
    const out = r.outcome;
    const logs = out.logs.map((l) => ({
      level: levelName(l.level),
      message: l.message,
      source: l.source,
    }));
    const fuelUsed = r.fuelUsed === undefined ? undefined : Number(r.fuelUsed);
    if (!out.ok) {
      return {
        ...failedOutcome(out.reason, logs),
        fuelUsed,
        settled: r.settled,
      };
    }
    const code = Number(out.code);
    return {
      status: code === 0 ? "ok" : "error",
      code,
      result: out.result,
      error: null,
      logs,
      fuelUsed,
      settled: r.settled,
    };
  }
}

function loadFailure(err: Error, limits: RunLimits): string {
  if (err.name === "MemoryLimitError") {
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
