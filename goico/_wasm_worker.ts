/**
 * The body of a `WasmPool` worker: a Worker started with no Deno permissions
 * at all, which instantiates compiled modules it is sent and runs batches
 * of calls in order, answering each call as soon as it is done. Each call
 * runs within its own deadline (counted here, from its start) and stops
 * when the pool cancels its batch or closes (see `CallControl`).
 *
 * Guests stay warm between calls, keyed by the caller's key, within a
 * budget: at most MAX_GUESTS of them, holding at most `warmBytes` of memory
 * in all (least recently used first out); a guest whose memory alone is
 * larger than that is dropped after its call, as is one that trapped.
 */
/// <reference lib="deno.worker" />
import {
  type PackedCalls,
  unpackCalls,
  type WorkerCall,
} from "./_wasm_calls.ts";
import {
  type CallControl,
  type GuestOutcome,
  GuestSetupError,
  WasmGuest,
} from "./wasm_guest.ts";

/** What the pool sends. */
export type WorkerMessage =
  /**
   * Once, at start: `flags`, a shared page whose i32s are: [0] stop the
   * call under way (its timeout passed), [1] stop everything, [2] the id of
   * a batch to stop; `warmBytes` bounds the memory of the guests kept warm.
   */
  | { type: "init"; flags: WebAssembly.Memory; warmBytes: number }
  /** Calls to run in order, each answered as soon as it is done. */
  | { type: "batch"; id: number; calls: PackedCalls }
  | { type: "permissions"; id: number };

/** What the worker answers. */
export type WorkerReply =
  | {
    type: "done";
    id: number;
    index: number;
    outcome: GuestOutcome;
    fuelUsed?: bigint;
  }
  /** The batch stopped before call `next`: done, cancelled, or a module is missing. */
  | { type: "end"; id: number; next: number; missing?: boolean }
  | { type: "permissions"; id: number; states: Record<string, string> };

const MAX_GUESTS = 64;
const guests = new Map<string, WasmGuest>();
const modules = new Map<string, WebAssembly.Module>();
let flags: WebAssembly.Memory | undefined;
let cancel: Int32Array<ArrayBufferLike> = new Int32Array(3);
let warmBytes = 256 * 1024 * 1024;

/** Drops guests, least recently used first, until the warm ones fit. */
function trimWarm(): void {
  let total = 0;
  for (const g of guests.values()) total += g.memoryBytes;
  for (const [key, g] of guests) {
    if (total <= warmBytes) break;
    guests.delete(key);
    total -= g.memoryBytes;
  }
}

/** Keeps at most MAX_GUESTS entries, dropping the least recently used. */
function remember<T>(map: Map<string, T>, key: string, value: T): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MAX_GUESTS) map.delete(map.keys().next().value!);
}

/** Runs one call; null when its module is not here. */
async function run(
  call: WorkerCall,
): Promise<{ outcome: GuestOutcome; fuelUsed?: bigint } | null> {
  if (call.module) remember(modules, call.key, call.module);
  const control: CallControl = {
    deadline: performance.now() + call.timeoutMs,
    timeoutMs: call.timeoutMs,
    flags,
  };
  let guest = guests.get(call.key);
  if (!guest || guest.broken) {
    guests.delete(call.key);
    const module = modules.get(call.key);
    if (!module) return null;
    try {
      guest = await WasmGuest.create(module, call.guest, control);
    } catch (err) {
      const reason = err instanceof GuestSetupError
        ? err.message
        : `Loading the module failed: ${(err as Error).message}`;
      return { outcome: { ok: false, reason, logs: [] } };
    }
    remember(guests, call.key, guest);
  }
  const outcome = guest.call(call.input, control);
  if (guest.broken || guest.memoryBytes > warmBytes) guests.delete(call.key);
  trimWarm();
  return { outcome, fuelUsed: guest.fuelUsed };
}

function stopped(id: number): boolean {
  return Atomics.load(cancel, 2) === id || Atomics.load(cancel, 1) !== 0;
}

async function runBatch(id: number, calls: WorkerCall[]): Promise<void> {
  for (let index = 0; index < calls.length; index++) {
    if (stopped(id)) {
      return self.postMessage({ type: "end", id, next: index });
    }
    Atomics.store(cancel, 0, 0); // a fresh call: its timeout is not past
    const r = await run(calls[index]);
    if (!r) {
      return self.postMessage({ type: "end", id, next: index, missing: true });
    }
    self.postMessage({ type: "done", id, index, ...r });
  }
  self.postMessage({ type: "end", id, next: calls.length });
}

/**
 * What this worker can reach, found by trying: each probe is "denied" when
 * Deno refuses it for lack of permission. Every one should be.
 */
function probe(): Record<string, string> {
  const tries: Record<string, () => unknown> = {
    read: () => Deno.readDirSync("/"),
    write: () => Deno.makeTempFileSync(),
    env: () => Deno.env.toObject(),
    net: () => Deno.listen({ hostname: "127.0.0.1", port: 0 }).close(),
    run: () => new Deno.Command("true").outputSync(),
    sys: () => Deno.hostname(),
  };
  const states: Record<string, string> = {};
  for (const [name, attempt] of Object.entries(tries)) {
    try {
      attempt();
      states[name] = "allowed";
    } catch (err) {
      states[name] = err instanceof Deno.errors.NotCapable ||
          err instanceof Deno.errors.PermissionDenied
        ? "denied"
        : `failed: ${(err as Error).message}`;
    }
  }
  return states;
}

self.onmessage = async (e: MessageEvent<WorkerMessage>) => {
  const msg = e.data;
  if (msg.type === "init") {
    flags = msg.flags;
    cancel = new Int32Array(msg.flags.buffer, 0, 3);
    warmBytes = msg.warmBytes;
  } else if (msg.type === "permissions") {
    self.postMessage({ type: "permissions", id: msg.id, states: probe() });
  } else await runBatch(msg.id, unpackCalls(msg.calls));
};
