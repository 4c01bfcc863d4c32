/**
 * The budget of one guest call: its instruction budget (the `__fuel` global
 * of a metered module), its deadline, and whether it was cancelled. A
 * module metered with `interrupt` gets its fuel in slices of
 * {@link FUEL_SLICE}; when a slice runs out it calls the hook, which counts
 * the slice, checks the budget, the clock and the cancel flag, and either
 * gives the next slice or stops the module. Host functions charge the work
 * they do (copying output, filling random bytes) to the same fuel and check
 * the same deadline. So a call stops within about one slice of work of its
 * deadline, in the thread that runs it. Private to `WasmGuest`.
 *
 * @module
 */

/**
 * Fuel given at a time to a module metered with `interrupt`: about a
 * millisecond of work, so a deadline or a cancel is seen within about that.
 */
export const FUEL_SLICE = 1_000_000n;

/** How a call is bounded besides its fuel. */
export interface CallControl {
  /** `performance.now()` by which the call must end. */
  deadline?: number;
  /** The timeout the deadline comes from, for the reason given. */
  timeoutMs?: number;
  /**
   * Shared with whoever may cancel the call: it is cancelled once
   * `signal[0] === id`, or `signal[1] !== 0` (everything stops). Sleeps in
   * the guest wake up when `signal[0]` changes and is notified
   * (`Atomics.notify(signal, 0)`).
   */
  signal?: Int32Array<ArrayBufferLike>;
  /** This call's id for `signal`. */
  id?: number;
}

/** Thrown by the hook or a host function to stop the guest. */
export class Interrupted extends Error {
  override name = "Interrupted";
}

type Stop = "fuel" | "timeout" | "cancelled";

export class FuelGauge {
  readonly #fuel?: WebAssembly.Global;
  readonly #budget?: bigint;
  /** True when the module asks for its fuel in slices (`interrupt`). */
  sliced = false;
  /** Fuel of the slices used up so far in this call. */
  #spent = 0n;
  /** The value the fuel global was last set to. */
  #given = 0n;
  /** Host work not yet taken from the fuel global (taken in bulk). */
  #pending = 0;
  #control: CallControl = {};
  #stop?: Stop;

  constructor(fuel: WebAssembly.Global | undefined, budget?: bigint) {
    if (fuel && budget !== undefined) {
      this.#fuel = fuel;
      this.#budget = budget;
    }
  }

  /** Starts a call (or start-up): a fresh budget and these bounds. */
  start(control: CallControl = {}): void {
    this.#control = control;
    this.#stop = undefined;
    this.#spent = 0n;
    this.#pending = 0;
    if (!this.#fuel) return;
    this.#given = this.sliced && this.#budget! > FUEL_SLICE
      ? FUEL_SLICE
      : this.#budget!;
    this.#fuel.value = this.#given;
  }

  /** Instructions used by the call so far, for metered modules. */
  get used(): bigint | undefined {
    if (!this.#fuel) return undefined;
    this.#flush();
    return this.#spent + this.#given - (this.#fuel.value as bigint);
  }

  /** The budget of a call, for metered modules. */
  get budget(): bigint | undefined {
    return this.#budget;
  }

  /**
   * The hook a metered module calls when a slice runs out: the next slice,
   * or, with the fuel global left below zero, a stop.
   */
  refill(): void {
    const fuel = this.#fuel;
    if (!fuel) return;
    this.#flush();
    this.#spent += this.#given - (fuel.value as bigint);
    this.#given = 0n;
    fuel.value = -1n;
    const left = this.#budget! - this.#spent;
    if (left <= 0n) {
      this.#stop = "fuel";
      return;
    }
    const stop = this.#check();
    if (stop) {
      this.#stop = stop;
      return;
    }
    this.#given = left < FUEL_SLICE ? left : FUEL_SLICE;
    fuel.value = this.#given;
  }

  /**
   * Charges host work to the fuel (the module stops at its next charge
   * point when that empties a slice) and stops the call at once if its
   * deadline passed or it was cancelled.
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

  /** True when the call's deadline stopped it. */
  get timedOut(): boolean {
    return this.#stop === "timeout";
  }

  /** True when the call was cancelled. */
  get cancelled(): boolean {
    return this.#stop === "cancelled";
  }

  /** Takes the pending host work from the fuel global. */
  #flush(): void {
    if (this.#fuel && this.#pending > 0) {
      this.#fuel.value = (this.#fuel.value as bigint) - BigInt(this.#pending);
    }
    this.#pending = 0;
  }

  /** Why the call stopped, when the budget, the clock or a cancel stopped it. */
  reason(): string | undefined {
    this.#flush();
    const stop = this.#stop ??
      (this.#fuel && !this.sliced && (this.#fuel.value as bigint) < 0n
        ? "fuel"
        : undefined);
    switch (stop) {
      case "fuel":
        return `fuel exhausted: the module ran more than ${this.#budget} instructions`;
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
   * deadline or when the call is cancelled. Returns the ms slept.
   */
  sleep(ms: number): number {
    const { deadline, signal } = this.#control;
    const wait = deadline === undefined
      ? ms
      : Math.min(ms, deadline - performance.now());
    if (!(wait > 0)) return 0;
    const t0 = performance.now();
    const cell = signal ?? new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(cell, 0, Atomics.load(cell, 0), wait);
    return performance.now() - t0;
  }

  #check(): Stop | undefined {
    const { deadline, signal, id } = this.#control;
    if (
      signal &&
      (Atomics.load(signal, 1) !== 0 ||
        (id !== undefined && Atomics.load(signal, 0) === id))
    ) return "cancelled";
    if (deadline !== undefined && performance.now() > deadline) {
      return "timeout";
    }
    return undefined;
  }
}
