/**
 * Runs events through Jobicolets (jobicolet-abi.md): modules compiled once
 * per content hash, one warm instance per module and main function reused
 * across events, and a fresh instance after any trap.
 */
import {
  GuestSetupError,
  meterFuel,
  ModuleCache,
  WasmGuest,
} from "../../goico/mod.ts";
import { type ExecutionLog, levelName } from "../recorder/execution.ts";

/** The default instruction budget of one execution: about a second of work. */
export const DEFAULT_FUEL = 1_000_000_000;

export interface JobicoletRunnerOptions {
  /** Instructions one execution may run before it is stopped. Default `DEFAULT_FUEL`. */
  fuel?: number | bigint;
  modules?: ModuleCache;
}

export interface RunOutcome {
  status: "ok" | "error" | "failed";
  code: number | null;
  result: string | null;
  error: string | null;
  logs: ExecutionLog[];
}

export class JobicoletRunner {
  readonly modules: ModuleCache;
  readonly #guests = new Map<string, WasmGuest>();

  readonly #fuel: bigint;

  /**
   * `load` fetches a module's bytes by content hash. Each module is metered
   * (an instruction budget injected with `meterFuel`) and compiled once;
   * every event, and each instance's start-up, gets `fuel` instructions.
   */
  constructor(
    private readonly load: (sha256: string) => Promise<Uint8Array>,
    options: JobicoletRunnerOptions = {},
  ) {
    this.#fuel = BigInt(options.fuel ?? DEFAULT_FUEL);
    this.modules = options.modules ?? new ModuleCache();
  }

  /** Runs one event. Never throws: every failure is an outcome. */
  async run(
    sha256: string,
    mainFunction: string,
    input: Uint8Array,
  ): Promise<RunOutcome> {
    const k = `${sha256}\u0000${mainFunction}`;
    let guest = this.#guests.get(k);
    if (!guest || guest.broken) {
      try {
        const mod = await this.modules.get(
          sha256,
          async () =>
            meterFuel(await this.load(sha256), { initialFuel: this.#fuel }),
        );
        guest = await WasmGuest.create(mod, { mainFunction, fuel: this.#fuel });
        this.#guests.set(k, guest);
      } catch (err) {
        const reason = err instanceof GuestSetupError
          ? err.message
          : `Loading the module failed: ${(err as Error).message}`;
        return failedOutcome(reason);
      }
    }
    const out = guest.call(input);
    const logs = out.logs.map((l) => ({
      level: levelName(l.level),
      message: l.message,
      source: l.source,
    }));
    if (guest.broken) this.#guests.delete(k);
    if (!out.ok) {
      return {
        status: "failed",
        code: null,
        result: null,
        error: out.reason,
        logs,
      };
    }
    const code = Number(out.code);
    return {
      status: code === 0 ? "ok" : "error",
      code,
      result: out.result,
      error: null,
      logs,
    };
  }
}

/** The outcome of an execution that failed before or outside the module. */
export function failedOutcome(
  reason: string,
  logs: ExecutionLog[] = [],
): RunOutcome {
  return { status: "failed", code: null, result: null, error: reason, logs };
}
