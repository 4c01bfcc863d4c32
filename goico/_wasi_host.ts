/**
 * The WASI preview 1 functions `WasmGuest` gives a guest: the shim's
 * (`@bjorn3/browser_wasi_shim`), with the ones that misbehave in a shared
 * host replaced:
 *
 * - `poll_oneoff` sleeps with `Atomics.wait` (the shim spins the CPU until the
 *   deadline) and only up to a budget per call: once `maxSleepMs` is used up,
 *   further sleeps return at once and the call gets one host warning.
 * - `sock_accept`, `sock_recv`, `sock_send` and `sock_shutdown` answer like a
 *   host without networking: `ERRNO_BADF` for a closed descriptor, else
 *   `ERRNO_NOTSUP` (the shim throws a string).
 * - `proc_raise` traps with a {@link ProcRaise} error (the shim throws a string).
 *
 * Every function is wrapped so that a value thrown that is not an `Error`
 * becomes a {@link HostFunctionError} naming the function.
 */
import type { WASI } from "@bjorn3/browser_wasi_shim";

export const ERRNO_SUCCESS = 0;
export const ERRNO_BADF = 8;
export const ERRNO_FAULT = 21;
export const ERRNO_INVAL = 28;
export const ERRNO_NOTSUP = 58;

const EVENTTYPE_CLOCK = 0;
const CLOCKID_REALTIME = 0;
const CLOCKID_MONOTONIC = 1;
const SUBSCRIPTION_CLOCK_ABSTIME = 1;
/** subscription: userdata u64 @0, tag u8 @8, clock {id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40}. */
const SUBSCRIPTION_SIZE = 48;
/** event: userdata u64 @0, error u16 @8, type u8 @10, fd_readwrite @16. */
const EVENT_SIZE = 32;

/** WASI's signal numbers, for readable `proc_raise` reasons. */
const SIGNALS = [
  "NONE",
  "HUP",
  "INT",
  "QUIT",
  "ILL",
  "TRAP",
  "ABRT",
  "BUS",
  "FPE",
  "KILL",
  "USR1",
  "SEGV",
  "USR2",
  "PIPE",
  "ALRM",
  "TERM",
  "CHLD",
  "CONT",
  "STOP",
  "TSTP",
  "TTIN",
  "TTOU",
  "URG",
  "XCPU",
  "XFSZ",
  "VTALRM",
  "PROF",
  "WINCH",
  "POLL",
  "PWR",
  "SYS",
];

/** The guest called `proc_raise`: the call fails with this reason. */
export class ProcRaise extends Error {
  override name = "ProcRaise";
  constructor(readonly signal: number) {
    const name = SIGNALS[signal];
    super(
      `the module called proc_raise(${signal})${
        name && signal > 0 ? ` to raise SIG${name}` : ""
      }`,
    );
  }
}

/** A host function threw something that is not an `Error`. */
export class HostFunctionError extends Error {
  override name = "HostFunctionError";
}

export interface WasiHostOptions {
  /** The guest's memory, once it is instantiated. */
  memory(): WebAssembly.Memory | undefined;
  /** Most time, in ms, that `poll_oneoff` may sleep in one call. */
  maxSleepMs: number;
  /** Records a host warning in the current call's logs. */
  warn(message: string): void;
}

// deno-lint-ignore no-explicit-any
type HostFn = (...args: any[]) => unknown;

export class WasiHost {
  /** The `wasi_snapshot_preview1` import object. */
  readonly imports: Record<string, HostFn>;
  readonly #shim: WASI;
  readonly #opts: WasiHostOptions;
  readonly #cell = new Int32Array(new SharedArrayBuffer(4));
  #slept = 0;
  #warned = false;

  constructor(shim: WASI, opts: WasiHostOptions) {
    this.#shim = shim;
    this.#opts = opts;
    const socket = (fd: number) => this.#isOpen(fd) ? ERRNO_NOTSUP : ERRNO_BADF;
    const own: Record<string, HostFn> = {
      poll_oneoff: (inPtr: number, outPtr: number, n: number, nPtr: number) =>
        this.#pollOneoff(inPtr, outPtr, n, nPtr),
      proc_raise: (signal: number) => {
        throw new ProcRaise(signal);
      },
      sock_accept: socket,
      sock_recv: socket,
      sock_send: socket,
      sock_shutdown: socket,
    };
    const all = { ...(shim.wasiImport as Record<string, HostFn>), ...own };
    this.imports = Object.fromEntries(
      Object.entries(all).map(([name, fn]) => [name, guarded(name, fn)]),
    );
  }

  /** Starts a call (or start-up): a fresh sleep budget. */
  startCall(): void {
    this.#slept = 0;
    this.#warned = false;
  }

  #isOpen(fd: number): boolean {
    return this.#shim.fds[fd] != undefined;
  }

  /** One clock subscription, relative or absolute, monotonic or realtime. */
  #pollOneoff(
    inPtr: number,
    outPtr: number,
    nsubscriptions: number,
    neventsPtr: number,
  ): number {
    nsubscriptions >>>= 0;
    if (nsubscriptions === 0) return ERRNO_INVAL;
    if (nsubscriptions > 1) return ERRNO_NOTSUP;
    const memory = this.#opts.memory();
    if (!memory) return ERRNO_FAULT;
    inPtr >>>= 0;
    outPtr >>>= 0;
    const size = memory.buffer.byteLength;
    const hasNevents = typeof neventsPtr === "number";
    if (
      inPtr + SUBSCRIPTION_SIZE > size || outPtr + EVENT_SIZE > size ||
      (hasNevents && (neventsPtr >>> 0) + 4 > size)
    ) return ERRNO_FAULT;
    const sub = new DataView(memory.buffer, inPtr, SUBSCRIPTION_SIZE);
    const userdata = sub.getBigUint64(0, true);
    if (sub.getUint8(8) !== EVENTTYPE_CLOCK) return ERRNO_NOTSUP;
    const clock = sub.getUint32(16, true);
    const now = clock === CLOCKID_MONOTONIC
      ? () => performance.now()
      : clock === CLOCKID_REALTIME
      ? () => Date.now()
      : undefined;
    if (!now) return ERRNO_INVAL;
    const timeoutMs = Number(sub.getBigUint64(24, true)) / 1e6;
    const absolute =
      (sub.getUint16(40, true) & SUBSCRIPTION_CLOCK_ABSTIME) !== 0;
    this.#sleep(absolute ? timeoutMs - now() : timeoutMs);

    const event = new DataView(memory.buffer, outPtr, EVENT_SIZE);
    new Uint8Array(memory.buffer, outPtr, EVENT_SIZE).fill(0);
    event.setBigUint64(0, userdata, true);
    event.setUint16(8, ERRNO_SUCCESS, true);
    event.setUint8(10, EVENTTYPE_CLOCK);
    if (hasNevents) {
      new DataView(memory.buffer).setUint32(neventsPtr >>> 0, 1, true);
    }
    return ERRNO_SUCCESS;
  }

  /** Blocks the thread without spinning, within what is left of the budget. */
  #sleep(ms: number): void {
    if (!(ms > 0)) return;
    const max = this.#opts.maxSleepMs;
    const left = max - this.#slept;
    const wait = Math.min(ms, left);
    if (wait > 0) {
      const t0 = performance.now();
      Atomics.wait(this.#cell, 0, 0, wait);
      this.#slept += performance.now() - t0;
    }
    if (ms > left && !this.#warned) {
      this.#warned = true;
      this.#opts.warn(
        `Sleeps in poll_oneoff were cut short at ${max} ms, ` +
          "the most a call may sleep",
      );
    }
  }
}

/** `fn`, with anything it throws that is not an `Error` turned into one. */
function guarded(name: string, fn: HostFn): HostFn {
  return (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      if (err instanceof Error) throw err;
      throw new HostFunctionError(
        `"wasi_snapshot_preview1"."${name}" threw ${describeThrown(err)}`,
      );
    }
  };
}

/** A readable rendering of any thrown value: `"text"`, `{"a":1}`, `undefined`. */
export function describeThrown(value: unknown): string {
  if (value instanceof Error) return value.message || value.name;
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // Cycles, BigInts: fall back to String.
  }
  try {
    return String(value);
  } catch {
    return `a value of type ${typeof value}`;
  }
}
