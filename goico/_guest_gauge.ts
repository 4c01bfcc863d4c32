/**
 * The budget of one guest call: its instruction budget (the `__fuel` global
 * of a metered module, and `__budget` for one metered with `interrupt`,
 * which takes its fuel in slices), its deadline, and the flags a host may
 * raise to stop it. Host functions charge the work they do (copying output,
 * filling random bytes) to the same fuel and check the flags and the
 * deadline at every call. Private to `WasmGuest`.
 *
 * @module
 */
import { FUEL_SLICE } from "./fuel_meter.ts";

/** How a call is bounded besides its fuel. */
export interface CallControl {
  /** `performance.now()` by which the call must end. */
  deadline?: number;
  /** The timeout the deadline comes from, for the reason given. */
  timeoutMs?: number;
  /**
   * A shared memory (one page) whose i32 flags stop the call when raised:
   * at offset 0 this call (its timeout passed), at 4 everything (a
   * shutdown). A module metered with `interrupt` reads them each time a
   * slice of fuel runs out; host functions at every call; sleeps wake up
   * when offset 0 is notified (`Atomics.notify`). Default: flags of the
   * guest's own, which nobody raises.
   */
  flags?: WebAssembly.Memory;
}

/** Thrown by a host function to stop the guest. */
export class Interrupted extends Error {
  override name = "Interrupted";
}

type Stop = "fuel" | "timeout" | "cancelled";

/** A shared page for the flags of guests that are given none. */
export function newFlags(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
}

export class FuelGauge {
  readonly #fuel?: WebAssembly.Global;
  /** `__budget` of a module metered with `interrupt`. */
  readonly #reserve?: WebAssembly.Global;
  readonly #total?: bigint;
  /** The first slice and the rest, for a module that takes slices. */
  readonly #first: bigint = 0n;
  readonly #rest: bigint = 0n;
  /** Host work not yet taken from the fuel global (taken in bulk). */
  #pending = 0;
  #control: CallControl = {};
  #flagsMemory: WebAssembly.Memory;
  #flags: Int32Array<ArrayBufferLike>;
  #stop?: Stop;

  constructor(
    fuel?: WebAssembly.Global,
    total?: bigint,
    reserve?: WebAssembly.Global,
    flags: WebAssembly.Memory = newFlags(),
  ) {
    if (fuel && total !== undefined) {
      this.#fuel = fuel;
      this.#total = total;
      this.#reserve = reserve;
      this.#first = total < BigInt(FUEL_SLICE) ? total : BigInt(FUEL_SLICE);
      this.#rest = total - this.#first;
    }
    this.#flagsMemory = flags;
    this.#flags = new Int32Array(flags.buffer, 0, 2);
  }

  /** Starts a call (or start-up): a fresh budget and these bounds. */
  start(control: CallControl = {}): void {
    this.#control = control;
    if (control.flags && control.flags !== this.#flagsMemory) {
      this.#flagsMemory = control.flags;
      this.#flags = new Int32Array(control.flags.buffer, 0, 2);
    }
    this.#stop = undefined;
    this.#pending = 0;
    if (!this.#fuel) return;
    if (this.#reserve) {
      this.#fuel.value = this.#first;
      this.#reserve.value = this.#rest;
    } else this.#fuel.value = this.#total!;
  }

  /** Instructions used by the call so far, for metered modules. */
  get used(): bigint | undefined {
    if (!this.#fuel) return undefined;
    this.#flush();
    return this.#total! - this.#left();
  }

  /** Fuel not used yet: in the slice and in the reserve. */
  #left(): bigint {
    return (this.#fuel!.value as bigint) +
      (this.#reserve ? this.#reserve.value as bigint : 0n);
  }

  /**
   * Charges host work to the fuel (the module stops at its next charge
   * point when that empties its budget) and stops the call at once if a
   * flag is raised or its deadline passed.
   */
  charge(units: number): void {
    this.#pending += units;
    if (this.#pending >= 4096) this.#flush();
    const stop = this.#check();
    if (stop) {
      this.#stop = stop;
      throw new Interrupted(this.reason()!);
    }
  }

  /** Takes the pending host work from the fuel global. */
  #flush(): void {
    if (this.#fuel && this.#pending > 0) {
      this.#fuel.value = (this.#fuel.value as bigint) - BigInt(this.#pending);
    }
    this.#pending = 0;
  }

  /** True when the call's deadline (or the host's flag for it) stopped it. */
  get timedOut(): boolean {
    return this.#stopped() === "timeout";
  }

  /** True when the host stopped everything (a shutdown). */
  get cancelled(): boolean {
    return this.#stopped() === "cancelled";
  }

  #stopped(): Stop | undefined {
    if (this.#stop) return this.#stop;
    // A module metered with `interrupt` stopped at a raised flag.
    if (Atomics.load(this.#flags, 1) !== 0) return "cancelled";
    if (Atomics.load(this.#flags, 0) !== 0) return "timeout";
    if (this.#fuel) {
      this.#flush();
      if ((this.#fuel.value as bigint) < 0n && this.#left() < 0n) return "fuel";
    }
    return undefined;
  }

  /** Why the call stopped, when the budget, the clock or a flag stopped it. */
  reason(): string | undefined {
    switch (this.#stopped()) {
      case "fuel":
        return `fuel exhausted: the module ran more than ${this.#total} instructions`;
      case "timeout":
        return `timeout: the execution ran longer than its limit of ${
          this.#control.timeoutMs ?? "its"
        } ms`;
      case "cancelled":
        return "cancelled: the execution was stopped by the host";
      default:
        return undefined;
    }
  }

  /**
   * Sleeps up to `ms` without using the CPU, waking up early at the
   * deadline or when a flag is raised. Returns the ms slept.
   */
  sleep(ms: number): number {
    const { deadline } = this.#control;
    const wait = deadline === undefined
      ? ms
      : Math.min(ms, deadline - performance.now());
    if (!(wait > 0) || this.#check()) return 0;
    const t0 = performance.now();
    Atomics.wait(this.#flags, 0, 0, wait);
    return performance.now() - t0;
  }

  #check(): Stop | undefined {
    if (Atomics.load(this.#flags, 1) !== 0) return "cancelled";
    if (Atomics.load(this.#flags, 0) !== 0) return "timeout";
    const { deadline } = this.#control;
    if (deadline !== undefined && performance.now() > deadline) {
      return "timeout";
    }
    return undefined;
  }
}
