/**
 * A pool of sandbox Workers that run WebAssembly guests (see `WasmGuest`).
 *
 * Each Worker is started with no Deno permissions at all: no files, no
 * network, no environment, no subprocesses. The guest inside sees only what
 * the WASI shim gives it. One call runs at a time per Worker; a pool sized
 * to the machine's cores runs that many calls in parallel while the main
 * isolate keeps serving HTTP and KV.
 *
 * A call that outlives its wall-clock `timeoutMs` is answered at once as a
 * timeout. The Worker itself cannot be stopped from outside while it spins
 * in wasm (`worker.terminate()` does not interrupt it in Deno 2.9), so it
 * stays reserved until the guest returns, which the instruction budget
 * (`meterFuel`) guarantees; `settled` resolves then, and a caller that
 * counts Workers per tenant keeps counting it until that moment. A Worker
 * that never comes back within `hangGraceMs` is terminated and replaced.
 */
import type { WorkerReply, WorkerRun } from "./_wasm_worker.ts";
import type { GuestOutcome, WasmGuestOptions } from "./wasm_guest.ts";

export interface WasmPoolOptions {
  /** Workers in the pool. Default: the machine's cores. */
  size?: number;
  /**
   * How long after its timeout a Worker may still be busy before it is
   * terminated and replaced. Default 60 s.
   */
  hangGraceMs?: number;
}

/** One call of a guest. */
export interface PoolCall {
  /** Identifies a warm guest: calls with the same key reuse its instance. */
  key: string;
  /** The compiled (metered) module; sent to a Worker with its first call of `key`. */
  module: WebAssembly.Module;
  guest: WasmGuestOptions;
  input: Uint8Array;
  /** Wall-clock limit of the call. */
  timeoutMs: number;
}

export interface PoolResult {
  outcome: GuestOutcome;
  /** Instructions used, for metered modules that returned. */
  fuelUsed?: bigint;
  timedOut: boolean;
  /** Resolves when the Worker that ran the call is free again. */
  settled: Promise<void>;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  /** Keys whose module this worker was sent. */
  known: Set<string>;
  /** The reply handler of the call under way. */
  onReply?: (reply: WorkerReply) => void;
  onCrash?: (reason: string) => void;
}

const WORKER_URL = new URL("./_wasm_worker.ts", import.meta.url);

export class WasmPool {
  readonly #slots: Slot[] = [];
  /** Callers waiting for a Worker; null when the pool closes. */
  readonly #waiting: ((slot: Slot | null) => void)[] = [];
  readonly #hangGraceMs: number;
  #nextId = 1;
  #closed = false;

  constructor(options: WasmPoolOptions = {}) {
    const size = options.size ?? navigator.hardwareConcurrency ?? 2;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Pool size must be a positive integer, got ${size}`);
    }
    this.#hangGraceMs = options.hangGraceMs ?? 60_000;
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
  }

  /** Workers in the pool. */
  get size(): number {
    return this.#slots.length;
  }

  /** Workers running a call (or a timed-out call that has not returned). */
  get busy(): number {
    return this.#slots.filter((s) => s.busy).length;
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL, {
      type: "module",
      name: "jobicolet-sandbox",
      deno: { permissions: "none" },
    });
    const slot: Slot = { worker, busy: false, known: new Set() };
    worker.onmessage = (e: MessageEvent<WorkerReply>) => slot.onReply?.(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      slot.onCrash?.(e.message);
    };
    return slot;
  }

  /** Waits for a free Worker. */
  #acquire(): Promise<Slot> {
    if (this.#closed) return Promise.reject(new Error("The pool is closed"));
    const free = this.#slots.find((s) => !s.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve, reject) =>
      this.#waiting.push((slot) =>
        slot ? resolve(slot) : reject(new Error("The pool is closed"))
      )
    );
  }

  #release(slot: Slot): void {
    slot.onReply = slot.onCrash = undefined;
    const next = this.#waiting.shift();
    if (next) next(slot);
    else slot.busy = false;
  }

  /** Replaces a Worker that crashed or hung, and hands the new one on. */
  #replace(slot: Slot): void {
    slot.onReply = slot.onCrash = undefined;
    slot.worker.terminate();
    const i = this.#slots.indexOf(slot);
    if (this.#closed || i < 0) return;
    const fresh = this.#spawn();
    fresh.busy = true;
    this.#slots[i] = fresh;
    this.#release(fresh);
  }

  /** Runs one call on a free Worker. Never rejects unless the pool is closed. */
  async run(call: PoolCall): Promise<PoolResult> {
    const slot = await this.#acquire();
    const id = this.#nextId++;
    let settle!: () => void;
    const settled = new Promise<void>((r) => settle = r);
    return new Promise<PoolResult>((resolve) => {
      let answered = false;
      const answer = (
        outcome: GuestOutcome,
        timedOut: boolean,
        fuel?: bigint,
      ) => {
        if (answered) return;
        answered = true;
        resolve({ outcome, fuelUsed: fuel, timedOut, settled });
      };
      let hang: ReturnType<typeof setTimeout> | undefined;
      const timer = setTimeout(() => {
        answer({
          ok: false,
          reason:
            `timeout: the execution ran longer than its limit of ${call.timeoutMs} ms`,
          logs: [],
        }, true);
        hang = setTimeout(() => {
          this.#replace(slot);
          settle();
        }, this.#hangGraceMs);
      }, call.timeoutMs);
      const send = (withModule: boolean) => {
        const msg: WorkerRun = {
          type: "run",
          id,
          key: call.key,
          ...(withModule && { module: call.module }),
          guest: call.guest,
          input: call.input,
        };
        slot.known.add(call.key);
        slot.worker.postMessage(msg);
      };
      slot.onReply = (reply) => {
        if (reply.type === "missing" && reply.id === id) return send(true);
        if (reply.type !== "done" || reply.id !== id) return;
        clearTimeout(timer);
        clearTimeout(hang);
        answer(reply.outcome, false, reply.fuelUsed);
        this.#release(slot);
        settle();
      };
      slot.onCrash = (reason) => {
        clearTimeout(timer);
        clearTimeout(hang);
        answer({
          ok: false,
          reason: `the sandbox worker crashed: ${reason}`,
          logs: [],
        }, false);
        this.#replace(slot);
        settle();
      };
      send(!slot.known.has(call.key));
    });
  }

  /**
   * What a sandbox Worker can reach, found by trying each kind of access in
   * it: `{read: "denied", net: "denied", ...}`.
   */
  async probe(): Promise<Record<string, string>> {
    const slot = await this.#acquire();
    const id = this.#nextId++;
    try {
      return await new Promise((resolve, reject) => {
        slot.onReply = (reply) => {
          if (reply.type === "permissions" && reply.id === id) {
            resolve(reply.states);
          }
        };
        slot.onCrash = (reason) => reject(new Error(reason));
        slot.worker.postMessage({ type: "permissions", id });
      });
    } finally {
      this.#release(slot);
    }
  }

  /**
   * Terminates every Worker. Calls under way are answered as failed;
   * callers still waiting for a Worker get a rejection.
   */
  close(): void {
    this.#closed = true;
    for (const s of this.#slots) {
      s.onCrash?.("the pool was closed");
      s.worker.terminate();
    }
    for (const w of this.#waiting.splice(0)) w(null);
  }
}
