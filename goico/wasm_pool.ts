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
 * timeout, and the Worker is told to stop it: each Worker shares a page of
 * flags with the pool, and a module metered with `interrupt` (`meterFuel`)
 * reads them each time a slice of fuel runs out (about a millisecond of
 * work), host functions at every call, sleeps wake up. So the Worker is
 * free again at once. `worker.terminate()` cannot do that: it does not
 * interrupt a thread spinning in wasm in Deno 2.9. A module metered without
 * `interrupt` keeps its Worker until its instruction budget stops it;
 * `settled` resolves when the Worker is free, and a caller that counts
 * Workers per tenant keeps counting it until that moment. A Worker that
 * never comes back within `hangGraceMs` is terminated and replaced.
 * `cancelAll` (a shutdown) and `close` stop every call the same way.
 */
import { packCalls, type WorkerCall } from "./_wasm_calls.ts";
import type { WorkerMessage, WorkerReply } from "./_wasm_worker.ts";
import type { GuestOutcome, WasmGuestOptions } from "./wasm_guest.ts";

/**
 * The size and bounds of a {@linkcode WasmPool}.
 *
 * @example
 * ```ts
 * const pool = new WasmPool({ size: 4, warmBytes: 64 * 1024 * 1024 });
 * ```
 */
export interface WasmPoolOptions {
  /**
   * Workers in the pool.
   *
   * @default {navigator.hardwareConcurrency} (the machine's cores)
   */
  size?: number;
  /**
   * How long after its timeout a Worker may still be busy before it is
   * terminated and replaced, in ms.
   *
   * @default {60000}
   */
  hangGraceMs?: number;
  /**
   * Most memory, in bytes, of the guests each Worker keeps warm between
   * calls.
   *
   * @default {268435456} (256 MiB)
   */
  warmBytes?: number;
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

/** The outcome of one call. */
export interface CallResult {
  outcome: GuestOutcome;
  /** Instructions used, for metered modules that returned. */
  fuelUsed?: bigint;
  timedOut: boolean;
}

export interface PoolResult extends CallResult {
  /** Resolves when the Worker that ran the call is free again. */
  settled: Promise<void>;
}

export interface BatchResult {
  /**
   * How many calls, from the first, got a result: all of them, unless one
   * timed out or its Worker crashed, and the calls after it were not run.
   */
  ran: number;
  /** Resolves when the Worker that ran the batch is free again. */
  settled: Promise<void>;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  /** Keys whose module this worker was sent. */
  known: Set<string>;
  /**
   * The flags shared with the worker: [0] stop the call under way, [1]
   * stop everything, [2] the id of a batch to stop.
   */
  cancel: Int32Array<ArrayBufferLike>;
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
  readonly #warmBytes: number;
  #nextId = 1;
  #closed = false;

  constructor(options: WasmPoolOptions = {}) {
    const size = options.size ?? navigator.hardwareConcurrency ?? 2;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`Pool size must be a positive integer, got ${size}`);
    }
    this.#hangGraceMs = options.hangGraceMs ?? 60_000;
    this.#warmBytes = options.warmBytes ?? 256 * 1024 * 1024;
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
    const flags = new WebAssembly.Memory({
      initial: 1,
      maximum: 1,
      shared: true,
    });
    const cancel = new Int32Array(flags.buffer, 0, 3);
    const slot: Slot = { worker, busy: false, known: new Set(), cancel };
    worker.postMessage(
      {
        type: "init",
        flags,
        warmBytes: this.#warmBytes,
      } satisfies WorkerMessage,
    );
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
    let result: CallResult | undefined;
    const { settled } = await this.runBatch([call], (_, r) => result = r);
    return { ...result!, settled };
  }

  /**
   * Runs calls in order on one Worker, one message for all of them, and
   * reports each result through `onResult` as soon as it is known. When a
   * call times out (or its Worker crashes) it is reported as such and the
   * calls after it are not run: `ran` says how many were. Never rejects
   * unless the pool is closed.
   */
  async runBatch(
    calls: PoolCall[],
    onResult: (index: number, result: CallResult) => void,
  ): Promise<BatchResult> {
    if (calls.length === 0) return { ran: 0, settled: Promise.resolve() };
    const slot = await this.#acquire();
    const id = this.#nextId++;
    let settle!: () => void;
    const settled = new Promise<void>((r) => settle = r);
    return new Promise<BatchResult>((resolve) => {
      let next = 0; // the call under way
      let base = 0; // index of the first call of the last message sent
      let finished = false;
      // One timer for the batch, not one per call: when it fires it looks
      // at the call under way, which started when the one before answered,
      // and waits again for what that call has left. It is set again only
      // when a call's deadline comes before the timer.
      let startedAt = performance.now(); // of the call under way
      let timer: ReturnType<typeof setTimeout> | undefined;
      let hang: ReturnType<typeof setTimeout> | undefined;
      const finish = (ran: number) => {
        clearTimeout(timer);
        timer = undefined;
        if (finished) return;
        finished = true;
        resolve({ ran, settled });
      };
      let timerAt = 0; // when the timer fires
      const arm = () => {
        if (finished || next >= calls.length) return;
        const deadline = startedAt + calls[next].timeoutMs;
        // Armed for no later than this call's deadline: nothing to do.
        if (timer !== undefined && timerAt <= deadline) return;
        clearTimeout(timer);
        const left = deadline - performance.now();
        timerAt = deadline;
        timer = setTimeout(() => {
          timer = undefined;
          if (finished || next >= calls.length) return;
          if (performance.now() < startedAt + calls[next].timeoutMs) {
            return arm();
          }
          const index = next;
          const { timeoutMs } = calls[index];
          // The batch stops; the call under way at its next slice of fuel.
          Atomics.store(slot.cancel, 2, id);
          Atomics.store(slot.cancel, 0, 1);
          Atomics.notify(slot.cancel, 0); // wakes a sleeping guest
          onResult(index, {
            outcome: {
              ok: false,
              reason:
                `timeout: the execution ran longer than its limit of ${timeoutMs} ms`,
              logs: [],
            },
            timedOut: true,
          });
          finish(index + 1);
          hang = setTimeout(() => {
            this.#replace(slot);
            settle();
          }, this.#hangGraceMs);
        }, Math.max(0, left));
      };
      const send = (from: number, withModules: boolean) => {
        base = from;
        const batch: WorkerCall[] = calls.slice(from).map((c) => {
          const needed = withModules || !slot.known.has(c.key);
          slot.known.add(c.key);
          return {
            key: c.key,
            ...(needed && { module: c.module }),
            guest: c.guest,
            input: c.input,
            timeoutMs: c.timeoutMs,
          };
        });
        slot.worker.postMessage(
          {
            type: "batch",
            id,
            calls: packCalls(batch),
          } satisfies WorkerMessage,
        );
      };
      slot.onReply = (reply) => {
        if (reply.type === "permissions" || reply.id !== id) return;
        if (reply.type === "done") {
          if (finished) return; // the timed-out call came back at last
          const index = base + reply.index;
          if (!reply.outcome.ok && reply.outcome.cancelled) {
            // Stopped by cancelAll: not run, like the calls after it.
            return finish(index);
          }
          onResult(index, {
            outcome: reply.outcome,
            fuelUsed: reply.fuelUsed,
            timedOut: !reply.outcome.ok && reply.outcome.timedOut === true,
          });
          next = index + 1;
          startedAt = performance.now();
          arm();
          return;
        }
        const at = base + reply.next;
        if (reply.missing && !finished) return send(at, true);
        clearTimeout(hang);
        finish(at);
        this.#release(slot);
        settle();
      };
      slot.onCrash = (reason) => {
        clearTimeout(hang);
        if (!finished) {
          onResult(next, {
            outcome: {
              ok: false,
              reason: `the sandbox worker crashed: ${reason}`,
              logs: [],
            },
            timedOut: false,
          });
          finish(next + 1);
        }
        this.#replace(slot);
        settle();
      };
      arm();
      send(0, false);
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
        slot.worker.postMessage(
          { type: "permissions", id } satisfies WorkerMessage,
        );
      });
    } finally {
      this.#release(slot);
    }
  }

  /**
   * Stops every call under way (at its module's next slice of fuel or host
   * call) and every call not started yet, for a shutdown: a batch reports
   * the calls that ran to their end, and `ran` leaves out the stopped ones.
   * The pool serves nothing more.
   */
  cancelAll(): void {
    for (const s of this.#slots) {
      Atomics.store(s.cancel, 1, 1);
      Atomics.notify(s.cancel, 0);
    }
  }

  /**
   * Terminates every Worker. Calls under way are answered as failed;
   * callers still waiting for a Worker get a rejection.
   */
  close(): void {
    this.#closed = true;
    for (const s of this.#slots) {
      // A guest spinning in wasm stops at its next slice: terminate alone
      // would leave its thread running.
      Atomics.store(s.cancel, 1, 1);
      Atomics.notify(s.cancel, 0);
      s.onCrash?.("the pool was closed");
      s.worker.terminate();
    }
    for (const w of this.#waiting.splice(0)) w(null);
  }
}
