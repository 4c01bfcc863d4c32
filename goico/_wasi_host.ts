/**
 * The WASI preview 1 functions `WasmGuest` gives a guest: the shim's
 * (`@bjorn3/browser_wasi_shim`), with the ones that misbehave in a shared
 * host replaced:
 *
 * - `fd_write` to stdout and stderr goes to the call's {@link Capture},
 *   which keeps what fits its budget and only counts the rest: one call
 *   with 100,000 iovecs over the same 64 KiB copies at most the budget
 *   (the shim copied each iovec, gigabytes per call). At most
 *   {@link MAX_WRITE} bytes are taken per call (like Linux), and a range
 *   outside memory is `ERRNO_FAULT`. Standard input is empty and
 *   read-only: writes to it, `fd_pwrite`, `fd_allocate` and
 *   `fd_filestat_set_size` fail instead of growing a file in memory.
 * - Every function charges its work to the call's {@link FuelGauge} (one
 *   unit per call, plus one per iovec, per 4 bytes kept, per 4 random
 *   bytes) and stops the guest at once when its deadline passed or it was
 *   cancelled.
 * - `poll_oneoff` sleeps with `Atomics.wait` (the shim spins the CPU until the
 *   deadline), no later than the call's deadline, waking when the call is
 *   cancelled, and only up to a budget per call: once `maxSleepMs` is used
 *   up, further sleeps return at once and the call gets one host warning.
 * - `fd_read` reads nothing from standard input (it is empty) and checks
 *   the iovec array and the count's pointer lie in memory, touching no
 *   iovec: the shim made an object and an array for each one, minutes of
 *   host CPU and gigabytes for one call over a large memory. `fd_pread` is
 *   `ERRNO_SPIPE` (nothing here is seekable).
 * - There are no directories: the `path_*` functions, `fd_readdir` and
 *   `fd_prestat_dir_name` answer `ERRNO_NOTDIR` or `ERRNO_BADF` without
 *   reading the path (the shim copied and decoded it first, any length).
 * - `random_get` fills only a range inside memory (else `ERRNO_FAULT`).
 * - A pointer outside memory given to any other function (a clock's
 *   result, a count) is `ERRNO_FAULT`, not a failure of the host.
 * - `sock_accept`, `sock_recv`, `sock_send` and `sock_shutdown` answer like a
 *   host without networking: `ERRNO_BADF` for a closed descriptor, else
 *   `ERRNO_NOTSUP` (the shim throws a string).
 * - `proc_raise` traps with a {@link ProcRaise} error (the shim throws a string).
 *
 * Every function is wrapped so that a value thrown that is not an `Error`
 * becomes a {@link HostFunctionError} naming the function.
 */
import type { WASI } from "@bjorn3/browser_wasi_shim";
import type { FuelGauge } from "./_guest_gauge.ts";
import { type Capture, EmptyStdin, OutputFd } from "./_guest_output.ts";

export const ERRNO_SUCCESS = 0;
export const ERRNO_BADF = 8;
export const ERRNO_FAULT = 21;
export const ERRNO_INVAL = 28;
export const ERRNO_NOTDIR = 54;
export const ERRNO_NOTSUP = 58;
export const ERRNO_SPIPE = 70;

/** The most bytes one `fd_write` takes, as on Linux (0x7ffff000). */
export const MAX_WRITE = 0x7ffff000;
/** Bytes of output kept, or random bytes made, per unit of fuel. */
const BYTES_PER_FUEL = 4;

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
  /** Where stdout and stderr go, and host warnings. */
  capture: Capture;
  /** The current call's fuel, deadline and cancel flag. */
  gauge(): FuelGauge;
}

// deno-lint-ignore no-explicit-any
type HostFn = (...args: any[]) => unknown;

export class WasiHost {
  /** The `wasi_snapshot_preview1` import object. */
  readonly imports: Record<string, HostFn>;
  readonly #shim: WASI;
  readonly #opts: WasiHostOptions;
  #slept = 0;
  #warned = false;

  constructor(shim: WASI, opts: WasiHostOptions) {
    this.#shim = shim;
    this.#opts = opts;
    const socket = (fd: number) => this.#isOpen(fd) ? ERRNO_NOTSUP : ERRNO_BADF;
    const notDirectory = (fd: number) =>
      this.#isOpen(fd) ? ERRNO_NOTDIR : ERRNO_BADF;
    const own: Record<string, HostFn> = {
      fd_write: (fd: number, iovs: number, n: number, nPtr: number) =>
        this.#fdWrite(fd, iovs, n, nPtr),
      // No descriptor here is seekable: stdout and stderr are pipes.
      fd_pwrite: (fd: number) =>
        this.#shim.fds[fd] instanceof OutputFd ? ERRNO_SPIPE : ERRNO_BADF,
      fd_read: (fd: number, iovs: number, n: number, nPtr: number) =>
        this.#fdRead(fd, iovs, n, nPtr),
      fd_pread: (fd: number) => this.#isOpen(fd) ? ERRNO_SPIPE : ERRNO_BADF,
      fd_readdir: notDirectory,
      fd_prestat_dir_name: () => ERRNO_BADF,
      random_get: (buf: number, len: number) => this.#randomGet(buf, len),
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
    for (const name of Object.keys(shim.wasiImport)) {
      if (name.startsWith("path_")) own[name] = notDirectory;
    }
    const all = { ...(shim.wasiImport as Record<string, HostFn>), ...own };
    this.imports = Object.fromEntries(
      Object.entries(all).map((
        [name, fn],
      ) => [name, guarded(name, fn, opts.gauge)]),
    );
  }

  /**
   * `fd_write` to stdout or stderr: counts every iovec, keeps what the
   * capture has room for. Other descriptors: `ERRNO_BADF`.
   */
  #fdWrite(fd: number, iovsPtr: number, n: number, nPtr: number): number {
    const target = this.#shim.fds[fd];
    if (!(target instanceof OutputFd)) return ERRNO_BADF;
    iovsPtr >>>= 0;
    n >>>= 0;
    nPtr >>>= 0;
    const memory = this.#iovecMemory(iovsPtr, n, nPtr);
    if (!memory) return ERRNO_FAULT;
    const size = memory.buffer.byteLength;
    const view = new DataView(memory.buffer);
    const capture = this.#opts.capture;
    const gauge = this.#opts.gauge();
    let total = 0;
    let kept = 0;
    let i = 0;
    for (; i < n && total < MAX_WRITE; i++) {
      const ptr = view.getUint32(iovsPtr + i * 8, true);
      let len = view.getUint32(iovsPtr + i * 8 + 4, true);
      if (ptr + len > size) {
        gauge.charge(i);
        return ERRNO_FAULT;
      }
      len = Math.min(len, MAX_WRITE - total);
      const room = capture.room;
      if (room > 0 && len > 0) {
        const bytes = new Uint8Array(memory.buffer, ptr, Math.min(len, room));
        kept += capture.write(target.stream, bytes);
        if (len > bytes.length) capture.drop(len - bytes.length);
      } else if (len > 0) capture.drop(len);
      total += len;
    }
    gauge.charge(i + Math.ceil(kept / BYTES_PER_FUEL));
    view.setUint32(nPtr, total, true);
    return ERRNO_SUCCESS;
  }

  /**
   * `fd_read`: standard input is empty, so nothing is read and no iovec is
   * looked at; the iovec array and the count must lie in memory. Standard
   * output and error are not readable: `ERRNO_BADF`, as for a closed one.
   */
  #fdRead(fd: number, iovsPtr: number, n: number, nPtr: number): number {
    if (!(this.#shim.fds[fd] instanceof EmptyStdin)) return ERRNO_BADF;
    iovsPtr >>>= 0;
    n >>>= 0;
    nPtr >>>= 0;
    const memory = this.#iovecMemory(iovsPtr, n, nPtr);
    if (!memory) return ERRNO_FAULT;
    this.#opts.gauge().charge(n);
    new DataView(memory.buffer).setUint32(nPtr, 0, true);
    return ERRNO_SUCCESS;
  }

  /**
   * The guest's memory, when `n` iovecs at `iovsPtr` and a count at `nPtr`
   * (all unsigned) lie inside it; else undefined (`ERRNO_FAULT`).
   */
  #iovecMemory(
    iovsPtr: number,
    n: number,
    nPtr: number,
  ): WebAssembly.Memory | undefined {
    const memory = this.#opts.memory();
    if (!memory) return undefined;
    const size = memory.buffer.byteLength;
    return iovsPtr + n * 8 > size || nPtr + 4 > size ? undefined : memory;
  }

  /** `random_get`: random bytes over a range inside memory. */
  #randomGet(buf: number, len: number): number {
    buf >>>= 0;
    len >>>= 0;
    const memory = this.#opts.memory();
    if (!memory || buf + len > memory.buffer.byteLength) return ERRNO_FAULT;
    this.#opts.gauge().charge(Math.ceil(len / BYTES_PER_FUEL));
    const bytes = new Uint8Array(memory.buffer, buf, len);
    // getRandomValues fills at most 65,536 bytes a call.
    for (let at = 0; at < len; at += 65_536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65_536));
    }
    return ERRNO_SUCCESS;
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

  /**
   * Blocks the thread without spinning, within what is left of the budget
   * and of the call's time.
   */
  #sleep(ms: number): void {
    if (!(ms > 0)) return;
    const max = this.#opts.maxSleepMs;
    const left = max - this.#slept;
    const wait = Math.min(ms, left);
    if (wait > 0) this.#slept += this.#opts.gauge().sleep(wait);
    if (ms > left && !this.#warned) {
      this.#warned = true;
      this.#opts.capture.warn(
        `Sleeps in poll_oneoff were cut short at ${max} ms, ` +
          "the most a call may sleep",
      );
    }
    this.#opts.gauge().charge(0);
  }
}

/** What V8 says when an offset or length falls outside a buffer. */
const OUT_OF_MEMORY_RANGE =
  /outside the bounds|Invalid typed array length|Invalid DataView length/;

/**
 * `fn`, charging one unit of fuel first (and stopping a call past its
 * deadline), with anything it throws that is not an `Error` turned into one.
 */
function guarded(
  name: string,
  fn: HostFn,
  gauge: () => FuelGauge,
): HostFn {
  return (...args) => {
    gauge().charge(1);
    try {
      return fn(...args);
    } catch (err) {
      // A pointer the guest gave outside its memory, met by the shim's
      // DataView or typed array: the guest's fault, as on a real system.
      if (err instanceof RangeError && OUT_OF_MEMORY_RANGE.test(err.message)) {
        return ERRNO_FAULT;
      }
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
