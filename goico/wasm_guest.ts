/**
 * Runs one call of a WebAssembly guest that follows the malloc / main / free
 * calling convention (the contract is in docs/jobicolet-abi.md):
 *
 *   in = malloc(len); copy input; res = malloc(16); main(res, in, len);
 *   read {code: u64, enc: u64} at res; result = bytes at enc>>32, len enc&0xffffffff;
 *   free(result); free(res); free(in)   (free(ptr) for ver 0, free(ptr, len) for ver 1)
 *
 * The guest may import `env.log(level, ptr, len)` and WASI preview 1, and
 * nothing else (`unprovidedImports` lists what a module asks for beyond
 * that). The WASI shim gives it no files, no environment and no arguments,
 * an empty read-only stdin, and what it writes to fd 1 and 2 is captured,
 * with what it logs, up to `maxOutputBytes` per call; `poll_oneoff` sleeps
 * without using the CPU and at most `maxSleepMs` per call, sockets answer
 * `ERRNO_NOTSUP` / `ERRNO_BADF`. One instance serves many calls; after a
 * trap it must be thrown away (`broken` turns true).
 *
 * A module metered with `interrupt` (see `meterFuel`) is given its memory
 * and the call's flags (`CallControl.flags`): raised by another thread, a
 * flag stops it within about a slice of fuel of work (`FUEL_SLICE`). Host
 * functions also stop a call past its deadline.
 *
 * A failed call's reason says why when it can: `fuel exhausted: ...` (the
 * instruction budget of `meterFuel` ran out), `timeout: ...` (its deadline
 * passed), `memory limit exceeded: ...` (its `memoryLimitPages` stopped a
 * grow), `stack overflow: ...`, `the module called proc_raise(6) to raise
 * SIGABRT`, else `trap: <engine message>`, or `host failure: ...` when a
 * host function failed.
 */
import {
  BUDGET_EXPORT,
  formatPages,
  HOST_MODULE,
  MEMORY_SECTION,
  START_EXPORT,
} from "./fuel_meter.ts";
import { WASI, WASIProcExit } from "@bjorn3/browser_wasi_shim";
import { describeThrown, ProcRaise, WasiHost } from "./_wasi_host.ts";
import {
  Capture,
  EmptyStdin,
  type GuestLog,
  type GuestLogSource,
  OutputFd,
} from "./_guest_output.ts";
import {
  type CallControl,
  FuelGauge,
  Interrupted,
  newFlags,
} from "./_guest_gauge.ts";

export type { CallControl, GuestLog, GuestLogSource };
export { FUEL_SLICE } from "./fuel_meter.ts";

export type GuestOutcome =
  | { ok: true; code: bigint; result: string; logs: GuestLog[] }
  | {
    ok: false;
    reason: string;
    logs: GuestLog[];
    /** The call's deadline stopped it. */
    timedOut?: true;
    /** The host cancelled it (the pool is shutting down): it did not run to its end. */
    cancelled?: true;
  };

/**
 * How a {@linkcode WasmGuest} runs its module: budgets, limits, names.
 *
 * @example
 * ```ts
 * const module = await WebAssembly.compile(meterFuel(bytes));
 * const guest = await WasmGuest.create(module, {
 *   fuel: 1_000_000_000n,
 *   maxOutputBytes: 64 * 1024,
 * });
 * ```
 */
export interface WasmGuestOptions {
  /**
   * The instruction budget of each call (and of start-up), for modules
   * rewritten by `meterFuel`. When it runs out the module traps and the
   * outcome says so. Ignored for modules without the fuel global.
   *
   * @default {undefined} (no budget)
   */
  fuel?: bigint;
  /**
   * The name of the fuel global the meter exported.
   *
   * @default {"__fuel"}
   */
  fuelExport?: string;
  /**
   * The memory limit, in 64 KiB pages, the module was metered with
   * (`meterFuel`'s `memoryLimitPages`). When given, a trap while the limit
   * global reads 1 is reported as `memory limit exceeded: ...`. Ignored for
   * modules without the limit global.
   *
   * @default {undefined}
   */
  memoryLimitPages?: number;
  /**
   * The name of the limit global the meter exported.
   *
   * @default {"__limit"}
   */
  limitExport?: string;
  /**
   * The exported main function.
   *
   * @default {"event"}
   */
  mainFunction?: string;
  /**
   * Longest log message kept, in bytes.
   *
   * @default {4096}
   */
  maxLogBytes?: number;
  /**
   * Most bytes of output (env.log messages, stdout and stderr, each log
   * entry counting 64 bytes more) kept per call; what comes past it is
   * counted and dropped, and the call's logs end with a warning saying so.
   *
   * @default {1048576} (1 MiB)
   */
  maxOutputBytes?: number;
  /**
   * Most time, in ms, that the guest may sleep in WASI `poll_oneoff` during
   * one call (and during start-up). Sleeps past it return at once and the
   * call gets one host warning. The thread blocks without using the CPU
   * while it sleeps.
   *
   * @default {1000}
   */
  maxSleepMs?: number;
  /**
   * Most bytes of a call's result decoded to text; a longer result keeps
   * its first bytes and ends with `... [truncated N bytes]`. Without it a
   * module could hand back its whole memory (a gigabyte) as one string.
   *
   * @default {1048576} (1 MiB)
   */
  maxResultBytes?: number;
}

/** The default of {@linkcode WasmGuestOptions.maxResultBytes}. */
export const MAX_RESULT_BYTES = 1024 * 1024;

/** Instantiation or ABI setup failed: the module cannot serve calls. */
export class GuestSetupError extends Error {}

const decoder = new TextDecoder("utf-8", { fatal: false });

type Fn = (...args: number[]) => number | bigint | undefined;

export class WasmGuest {
  #broken = false;
  readonly #cap: Capture;
  readonly #wasiHost: WasiHost;
  readonly #memory: WebAssembly.Memory;
  readonly #malloc: Fn;
  readonly #free: Fn;
  readonly #main: Fn;
  #ver = 0;
  readonly #maxResult: number;
  readonly #gauge: FuelGauge;
  readonly #limit?: WebAssembly.Global;
  readonly #limitPages?: number;

  private constructor(
    instance: WebAssembly.Instance,
    opts: WasmGuestOptions,
    { cap, wasiHost, gauge }: Host,
  ) {
    this.#cap = cap;
    this.#wasiHost = wasiHost;
    this.#gauge = gauge;
    const ex = instance.exports as Record<string, unknown>;
    const mainName = opts.mainFunction || "event";
    const limit = ex[opts.limitExport ?? "__limit"];
    if (
      opts.memoryLimitPages !== undefined &&
      limit instanceof WebAssembly.Global
    ) {
      this.#limit = limit;
      this.#limitPages = opts.memoryLimitPages;
    }
    const need = (name: string) => {
      if (typeof ex[name] !== "function") {
        throw new GuestSetupError(
          `Module does not export the function "${name}"`,
        );
      }
      return ex[name] as Fn;
    };
    if (!(ex.memory instanceof WebAssembly.Memory)) {
      throw new GuestSetupError(
        'Module does not export its memory as "memory"',
      );
    }
    this.#memory = ex.memory;
    this.#malloc = need("malloc");
    this.#free = need("free");
    this.#main = need(mainName);
    cap.memory = this.#memory;
    this.#maxResult = opts.maxResultBytes ?? MAX_RESULT_BYTES;
  }

  /**
   * Reads the ABI flavour, after start-up: the module's start function,
   * `_start` and `init` may set what `ver` returns (the wasm start
   * function always runs before any export is called; the meter moves it
   * to `__start`, which must then run first too).
   */
  #readVer(ex: Record<string, unknown>): void {
    try {
      this.#ver = typeof ex.ver === "function" ? Number((ex.ver as Fn)()) : 0;
    } catch (err) {
      throw new GuestSetupError(
        `Module start-up trapped in "ver": ${
          this.#stopReason() ?? startUpReason(err)
        }`,
      );
    }
    if (this.#ver !== 0 && this.#ver !== 1) {
      throw new GuestSetupError(
        `Module reports ABI flavour ver ${this.#ver}; only 0 and 1 exist`,
      );
    }
  }

  /**
   * Instantiates a compiled module, runs its start function (`__start` of
   * a module metered with `interrupt`), `_start` (if exported) and then
   * `init`, within `control` (a deadline, flags).
   */
  static async create(
    module: WebAssembly.Module,
    opts: WasmGuestOptions = {},
    control: CallControl = {},
  ): Promise<WasmGuest> {
    const host = makeHost(opts);
    const flags = control.flags ?? newFlags();
    const interrupted = interruptImports(module, flags);
    if (interrupted) host.imports[HOST_MODULE] = interrupted;
    const missing = missingImports(module, host.imports);
    if (missing.length > 0) {
      throw new GuestSetupError(
        `Instantiating the module failed: the module imports ${
          formatImportList(missing)
        }, which ${missing.length === 1 ? "is" : "are"} not provided`,
      );
    }
    let instance: WebAssembly.Instance;
    try {
      host.wasiHost.startCall();
      instance = await WebAssembly.instantiate(module, host.imports);
    } catch (err) {
      throw new GuestSetupError(
        `Instantiating the module failed: ${messageOf(err)}`,
      );
    }
    const ex = instance.exports as Record<string, Fn>;
    const fuel = ex[opts.fuelExport ?? "__fuel"] as unknown;
    const reserve = ex[BUDGET_EXPORT] as unknown;
    host.gauge = opts.fuel !== undefined && fuel instanceof WebAssembly.Global
      ? new FuelGauge(
        fuel,
        opts.fuel,
        reserve instanceof WebAssembly.Global ? reserve : undefined,
        flags,
      )
      : new FuelGauge(undefined, undefined, undefined, flags);
    host.gauge.start(control);
    host.wasi.inst = instance as unknown as typeof host.wasi.inst;
    let g: WasmGuest;
    try {
      g = new WasmGuest(instance, opts, host);
    } catch (err) {
      if (err instanceof GuestSetupError) throw err;
      throw new GuestSetupError(
        `Module start-up trapped: ${host.gauge.reason() ?? startUpReason(err)}`,
      );
    }
    try {
      if (typeof ex[START_EXPORT] === "function") ex[START_EXPORT]();
      if (typeof ex._start === "function") {
        try {
          ex._start();
        } catch (err) {
          if (!(err instanceof WASIProcExit) || err.code !== 0) throw err;
        }
      }
      if (typeof ex.init === "function") ex.init();
      else {throw new GuestSetupError(
          'Module does not export the function "init"',
        );}
      g.#readVer(ex);
    } catch (err) {
      if (err instanceof GuestSetupError) throw err;
      throw new GuestSetupError(
        `Module start-up trapped: ${g.#stopReason() ?? startUpReason(err)}`,
      );
    }
    // Output written during start-up belongs to no execution.
    host.cap.take();
    return g;
  }

  /**
   * Why the last trap happened when the budget ran out, the deadline
   * passed, the call was cancelled or the memory limit stopped a grow,
   * else undefined.
   */
  #stopReason(): string | undefined {
    const stopped = this.#gauge.reason();
    if (stopped) return stopped;
    if (this.#limit && this.#limit.value === 1) {
      return "memory limit exceeded: the module tried to grow its memory or tables " +
        `past ${formatPages(this.#limitPages!)}`;
    }
    return undefined;
  }

  /** Instructions the last call used, for metered modules. */
  get fuelUsed(): bigint | undefined {
    return this.#gauge.used;
  }

  /** Bytes the instance's memory holds now. */
  get memoryBytes(): number {
    return this.#memory.buffer.byteLength;
  }

  /** True after a trap: the instance must not be used again. */
  get broken(): boolean {
    return this.#broken;
  }

  /** The ABI flavour: 0 (free(ptr)) or 1 (free(ptr, len)). */
  get ver(): number {
    return this.#ver;
  }

  /**
   * Runs the main function on `input` within `control` (a deadline, a
   * cancel flag). Never throws.
   */
  call(input: Uint8Array, control: CallControl = {}): GuestOutcome {
    if (this.#broken) {
      return {
        ok: false,
        reason: "Instance is broken by an earlier trap",
        logs: [],
      };
    }
    this.#cap.take();
    this.#gauge.start(control);
    if (this.#limit) this.#limit.value = 0;
    this.#wasiHost.startCall();
    let inPtr: number, resPtr: number;
    try {
      inPtr = Number(this.#malloc(input.length)) >>> 0;
      this.#bytes(inPtr, input.length, "input buffer").set(input);
      resPtr = Number(this.#malloc(16)) >>> 0;
      this.#bytes(resPtr, 16, "result struct");
      this.#main(resPtr, inPtr, input.length);
    } catch (err) {
      return this.#failed(err);
    }
    let code: bigint, result: string;
    try {
      const view = new DataView(this.#memory.buffer, resPtr, 16);
      code = BigInt.asIntN(64, view.getBigUint64(0, true));
      const enc = view.getBigUint64(8, true);
      const ptr = Number(enc >> 32n);
      const len = Number(enc & 0xffffffffn);
      const bytes = this.#bytes(ptr, len, "result string");
      result = len > this.#maxResult
        ? decoder.decode(bytes.subarray(0, this.#maxResult)) +
          `... [truncated ${len - this.#maxResult} bytes]`
        : decoder.decode(bytes);
      if (ptr !== 0) this.#safeFree(ptr, len);
    } catch (err) {
      if (err instanceof Interrupted) return this.#failed(err);
      this.#broken = true;
      return { ok: false, reason: messageOf(err), logs: this.#cap.take() };
    }
    try {
      this.#safeFree(resPtr, 16);
      this.#safeFree(inPtr, input.length);
    } catch (err) {
      return this.#failed(err); // an interrupt, past the deadline
    }
    return { ok: true, code, result, logs: this.#cap.take() };
  }

  /** The outcome of a call that trapped: the instance is broken. */
  #failed(err: unknown): GuestOutcome {
    this.#broken = true;
    return {
      ok: false,
      reason: this.#stopReason() ?? trapReason(err),
      logs: this.#cap.take(),
      ...(this.#gauge.timedOut && { timedOut: true as const }),
      ...(this.#gauge.cancelled && { cancelled: true as const }),
    };
  }

  #bytes(ptr: number, len: number, what: string): Uint8Array {
    const size = this.#memory.buffer.byteLength;
    if (ptr + len > size) {
      throw new Error(
        `The module's ${what} (${ptr}+${len}) lies outside its memory (${size} bytes)`,
      );
    }
    return new Uint8Array(this.#memory.buffer, ptr, len);
  }

  #safeFree(ptr: number, len: number) {
    try {
      if (this.#ver === 1) this.#free(ptr, len);
      else this.#free(ptr);
    } catch (err) {
      // The Rust SDK's free traps on its dangling pointers while its results are right.
      this.#cap.warn(
        `free(${ptr}) trapped: ${this.#stopReason() ?? trapReason(err)}`,
      );
      // A timeout or a cancel stops the rest of the call, not just this free.
      if (err instanceof Interrupted) throw err;
    }
  }
}

/** The message of an Error, or a readable rendering of anything else thrown. */
function messageOf(err: unknown): string {
  return err instanceof Error
    ? err.message
    : `a non-Error value was thrown: ${describeThrown(err)}`;
}

/** What a guest is given: its capture, its WASI and the imports object. */
interface Host {
  cap: Capture;
  wasi: WASI;
  wasiHost: WasiHost;
  imports: WebAssembly.Imports;
  /** Its budget: replaced once the instance's fuel global is known. */
  gauge: FuelGauge;
}

/**
 * What a module metered with `interrupt` imports: its memory (made here,
 * with the limits the meter recorded) and the flags. Undefined for other
 * modules.
 */
function interruptImports(
  module: WebAssembly.Module,
  flags: WebAssembly.Memory,
): WebAssembly.ModuleImports | undefined {
  const wanted = WebAssembly.Module.imports(module).filter((i) =>
    i.module === HOST_MODULE
  );
  if (wanted.length === 0) return undefined;
  const out: WebAssembly.ModuleImports = { flags };
  // The meter writes the last (and drops any the module brought).
  const section = WebAssembly.Module.customSections(module, MEMORY_SECTION)
    .at(-1);
  if (section) {
    const { initial, maximum } = JSON.parse(decoder.decode(section));
    out.memory = new WebAssembly.Memory(
      maximum === undefined ? { initial } : { initial, maximum },
    );
  }
  return out;
}

/** The host side of one guest: everything it may import. */
function makeHost(opts: WasmGuestOptions): Host {
  const maxSleepMs = opts.maxSleepMs ?? 1000;
  if (!(maxSleepMs >= 0)) {
    throw new RangeError(
      `maxSleepMs must be 0 or more, got ${opts.maxSleepMs}`,
    );
  }
  const maxOutput = opts.maxOutputBytes ?? 1024 * 1024;
  if (!(Number.isInteger(maxOutput) && maxOutput >= 0)) {
    throw new RangeError(
      `maxOutputBytes must be an integer of 0 or more, got ${opts.maxOutputBytes}`,
    );
  }
  const cap = new Capture(opts.maxLogBytes ?? 4096, maxOutput);
  // debug: false, or the shim prints what guests pass (sizes, paths) to the host's console.
  const wasi = new WASI([], [], [
    new EmptyStdin(),
    new OutputFd("stdout"),
    new OutputFd("stderr"),
  ], { debug: false });
  const host = { cap, wasi, gauge: new FuelGauge(undefined) } as Host;
  host.wasiHost = new WasiHost(wasi, {
    memory: () => cap.memory,
    maxSleepMs,
    capture: cap,
    // Looked up at each call: create() replaces the gauge.
    gauge: () => host.gauge,
  });
  host.imports = {
    env: {
      log: (level: number, ptr: number, len: number) => {
        host.gauge.charge(1 + (Math.min(len >>> 0, cap.maxLog) >> 2));
        cap.log(level, ptr, len);
      },
    },
    wasi_snapshot_preview1: host.wasiHost.imports,
  };
  return host;
}

let provided: WebAssembly.Imports | undefined;

/**
 * The imports of `module` that a `WasmGuest` does not provide, as
 * `"module"."name"` (with the kind for an import that is not a function,
 * e.g. `"env"."memory" (a memory)`): anything but the function `env.log`
 * and the WASI preview 1 functions. Empty when the module can be
 * instantiated. Upload checks use it to refuse such a module early.
 */
export function unprovidedImports(module: WebAssembly.Module): string[] {
  provided ??= makeHost({}).imports;
  return missingImports(module, provided);
}

/**
 * A list of import names for a message: `A`, `A and B`, `A, B and C`, and
 * past `max` names (default 5), `A, B, C, D, E and 3 more`.
 */
export function formatImportList(names: string[], max = 5): string {
  const shown = names.length > max
    ? [...names.slice(0, max), `${names.length - max} more`]
    : names;
  return shown.length <= 1
    ? shown.join("")
    : `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
}

/**
 * The imports of `module` that `imports` lacks: functions, and the memories
 * of a module metered with `interrupt` when they are given.
 */
function missingImports(
  module: WebAssembly.Module,
  imports: WebAssembly.Imports,
): string[] {
  return WebAssembly.Module.imports(module)
    .filter((i) => {
      const ns = Object.hasOwn(imports, i.module) ? imports[i.module] : {};
      if (!Object.hasOwn(ns, i.name)) return true;
      const given = ns[i.name];
      return i.kind === "memory"
        ? !(given instanceof WebAssembly.Memory)
        : i.kind !== "function" || typeof given !== "function";
    })
    .map((i) =>
      `${JSON.stringify(i.module)}.${JSON.stringify(i.name)}` +
      (i.kind === "function" ? "" : ` (a ${i.kind})`)
    );
}

/** Why start-up failed: the engine's message, or that the stack overflowed. */
function startUpReason(err: unknown): string {
  return isStackOverflow(err) ? trapReason(err) : messageOf(err);
}

function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

/** A readable reason for a trap, e.g. `trap: unreachable`. */
function trapReason(err: unknown): string {
  if (err instanceof WebAssembly.RuntimeError) return `trap: ${err.message}`;
  if (isStackOverflow(err)) {
    return "stack overflow: the module's calls nested too deeply";
  }
  if (err instanceof WASIProcExit) {
    // WASI's exit code is unsigned: proc_exit(-1) is 4294967295.
    return `the module called proc_exit(${err.code >>> 0})`;
  }
  if (err instanceof ProcRaise || err instanceof Interrupted) {
    return err.message;
  }
  return `host failure: ${messageOf(err)}`;
}
