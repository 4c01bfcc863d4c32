/**
 * How a batch of calls travels to a `WasmPool` worker: packed, so that one
 * message carries each distinct guest once and the inputs end to end in
 * one buffer (cloning many small objects and buffers cost more than the
 * calls themselves). Shared by the pool and its worker.
 */
import type { WasmGuestOptions } from "./wasm_guest.ts";

/** One call of a batch. */
export interface WorkerCall {
  key: string;
  /** Sent with the first call of a key; the worker keeps it. */
  module?: WebAssembly.Module;
  guest: WasmGuestOptions;
  input: Uint8Array;
  /** The call's wall-clock limit, counted in the worker from its start. */
  timeoutMs: number;
}

/** The calls of a batch as one message carries them. */
export interface PackedCalls {
  guests: {
    key: string;
    module?: WebAssembly.Module;
    guest: WasmGuestOptions;
    timeoutMs: number;
  }[];
  /** For each call, the index of its guest. */
  guestOf: Uint32Array;
  /** Call i's input is `inputs[ends[i - 1] ?? 0 .. ends[i]]`. */
  inputs: Uint8Array;
  ends: Uint32Array;
}

/** Packs calls for a message (see `PackedCalls`). */
export function packCalls(calls: WorkerCall[]): PackedCalls {
  const guests: PackedCalls["guests"] = [];
  const byKey = new Map<string, number>();
  const guestOf = new Uint32Array(calls.length);
  const ends = new Uint32Array(calls.length);
  let size = 0;
  for (const [i, c] of calls.entries()) {
    // Calls share a guest entry when their key and options are the same.
    const o = c.guest;
    const id = `${c.key}\u0000${o.fuel}\u0000${o.fuelExport}\u0000` +
      `${o.memoryLimitPages}\u0000${o.limitExport}\u0000${o.mainFunction}` +
      `\u0000${o.maxLogBytes}\u0000${o.maxSleepMs}\u0000${o.maxOutputBytes}` +
      `\u0000${c.timeoutMs}`;
    let g = byKey.get(id);
    if (g === undefined || (c.module && !guests[g].module)) {
      g = guests.length;
      byKey.set(id, g);
      guests.push({
        key: c.key,
        ...(c.module && { module: c.module }),
        guest: c.guest,
        timeoutMs: c.timeoutMs,
      });
    }
    guestOf[i] = g;
    size += c.input.length;
    ends[i] = size;
  }
  const inputs = new Uint8Array(size);
  for (const [i, c] of calls.entries()) {
    inputs.set(c.input, i === 0 ? 0 : ends[i - 1]);
  }
  return { guests, guestOf, inputs, ends };
}

/** The calls of a packed message. */
export function unpackCalls(p: PackedCalls): WorkerCall[] {
  return Array.from(p.guestOf, (g, i) => ({
    ...p.guests[g],
    input: p.inputs.subarray(i === 0 ? 0 : p.ends[i - 1], p.ends[i]),
  }));
}
