/**
 * The body of a `WasmPool` worker: a Worker started with no Deno permissions
 * at all, which instantiates compiled modules it is sent and runs one call
 * at a time. Guests stay warm between calls, keyed by the caller's key.
 */
/// <reference lib="deno.worker" />
import {
  type GuestOutcome,
  GuestSetupError,
  WasmGuest,
  type WasmGuestOptions,
} from "./wasm_guest.ts";

/** A call the pool sends. */
export interface WorkerRun {
  type: "run";
  id: number;
  key: string;
  /** Sent with the first call of a key; the worker keeps it. */
  module?: WebAssembly.Module;
  guest: WasmGuestOptions;
  input: Uint8Array;
}

/** What the worker answers. */
export type WorkerReply =
  | { type: "done"; id: number; outcome: GuestOutcome; fuelUsed?: bigint }
  /** The worker no longer has the call's module: send the call again with it. */
  | { type: "missing"; id: number }
  | { type: "permissions"; id: number; states: Record<string, string> };

const MAX_GUESTS = 64;
const guests = new Map<string, WasmGuest>();
const modules = new Map<string, WebAssembly.Module>();

/** Keeps at most MAX_GUESTS entries, dropping the least recently used. */
function remember<T>(map: Map<string, T>, key: string, value: T): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MAX_GUESTS) map.delete(map.keys().next().value!);
}

async function run(msg: WorkerRun): Promise<WorkerReply> {
  if (msg.module) remember(modules, msg.key, msg.module);
  let guest = guests.get(msg.key);
  if (!guest || guest.broken) {
    guests.delete(msg.key);
    const module = modules.get(msg.key);
    if (!module) return { type: "missing", id: msg.id };
    try {
      guest = await WasmGuest.create(module, msg.guest);
    } catch (err) {
      const reason = err instanceof GuestSetupError
        ? err.message
        : `Loading the module failed: ${(err as Error).message}`;
      return {
        type: "done",
        id: msg.id,
        outcome: { ok: false, reason, logs: [] },
      };
    }
    remember(guests, msg.key, guest);
  }
  const outcome = guest.call(msg.input);
  if (guest.broken) guests.delete(msg.key);
  return { type: "done", id: msg.id, outcome, fuelUsed: guest.fuelUsed };
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

self.onmessage = async (
  e: MessageEvent<WorkerRun | { type: "permissions"; id: number }>,
) => {
  const msg = e.data;
  if (msg.type === "permissions") {
    self.postMessage({ type: "permissions", id: msg.id, states: probe() });
    return;
  }
  self.postMessage(await run(msg));
};
