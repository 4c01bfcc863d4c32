/**
 * Executor overhead: microseconds per execution of the echo Jobicolet
 * (tests/jobicolets/echo.wat) on the platform's path, against V8 itself and
 * against Extism, all in this process one after the other:
 *
 * - raw, fresh instance: `WebAssembly.instantiate` of the compiled module,
 *   `_start`, `init`, then the ABI call (malloc, copy the input, `event`,
 *   read the result): the least an isolated execution costs in V8;
 * - raw, warm instance: the ABI call alone on one instance (the floor);
 * - WasmGuest, warm: the same call through goico's guest (WASI shim, log
 *   capture, outcome), unmetered, in this isolate;
 * - platform: `JobicoletRunner.runBatch` on a one-Worker `WasmPool`, the
 *   module metered (fuel and memory limit injected), in batches of 64 as an
 *   executor lane sends them: what the executor pays per execution;
 * - Extism: `npm:@extism/extism` running bench/jobicolets/extism_echo.wat
 *   (the same echo written for Extism's ABI) in an isolate of its own
 *   process (bench/_extism_baseline.ts: Extism is a dev tool kept out of
 *   deno.lock), warm plugin, `reset()` after each call.
 *
 * Each case is the best of `repeats` timed runs after a warm-up run.
 */
import { WasmGuest, WasmPool } from "@jobico/goico";
import { JobicoletRunner } from "../components/executor/jobicolet_runner.ts";
import type { RunJob } from "../components/executor/jobicolet_runner.ts";
import { DEFAULT_LIMITS } from "../components/model/runtime_limits.ts";
import { compileWat, compileWatText } from "../tests/jobicolets/compile_wat.ts";
import { extismUsPerCall } from "./_extism_baseline.ts";
import { usPerCall } from "./_us_per_call.ts";

export interface ExecutorOverheadOptions {
  calls: number;
  repeats: number;
  /** Skip Extism (it is slow to load). */
  skipExtism?: boolean;
}

export interface ExecutorOverheadResult {
  calls: number;
  /** µs per execution */
  us: {
    rawFresh: number;
    rawWarm: number;
    guestWarm: number;
    platform: number;
    extism?: number;
  };
  extismError?: string;
  ratios: {
    /** platform / raw fresh instance (the target: at most 2) */
    platformOverRaw: number;
    platformOverRawWarm: number;
    extismOverPlatform?: number;
  };
}

const INPUT = new TextEncoder().encode('{"n":1,"name":"Ada"}');
const decoder = new TextDecoder();

type Fn = (...args: number[]) => number;

/** The ABI call (docs/jobicolet-abi.md, ver 0) on a raw instance. */
function abiCall(ex: Record<string, unknown>, input: Uint8Array): string {
  const memory = ex.memory as WebAssembly.Memory;
  const malloc = ex.malloc as Fn;
  const free = ex.free as Fn;
  const inPtr = malloc(input.length) >>> 0;
  new Uint8Array(memory.buffer, inPtr, input.length).set(input);
  const res = malloc(16) >>> 0;
  (ex.event as Fn)(res, inPtr, input.length);
  const view = new DataView(memory.buffer, res, 16);
  if (view.getBigUint64(0, true) !== 0n) throw new Error("echo failed");
  const enc = view.getBigUint64(8, true);
  const ptr = Number(enc >> 32n);
  const len = Number(enc & 0xffffffffn);
  const out = decoder.decode(new Uint8Array(memory.buffer, ptr, len));
  free(ptr);
  free(res);
  free(inPtr);
  return out;
}

export async function executorOverheadBench(
  o: ExecutorOverheadOptions,
): Promise<ExecutorOverheadResult> {
  const bytes = await compileWat("echo");
  const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  const imports = { env: { log: () => {} } };
  const expected = decoder.decode(INPUT);

  const rawFresh = await usPerCall(o.calls, o.repeats, async (n) => {
    for (let i = 0; i < n; i++) {
      const inst = await WebAssembly.instantiate(module, imports);
      const ex = inst.exports as Record<string, unknown>;
      (ex._start as Fn)();
      (ex.init as Fn)();
      if (abiCall(ex, INPUT) !== expected) throw new Error("raw: bad echo");
    }
  });

  const warm = await WebAssembly.instantiate(module, imports);
  (warm.exports._start as Fn)();
  (warm.exports.init as Fn)();
  const rawWarm = await usPerCall(o.calls, o.repeats, (n) => {
    const ex = warm.exports as Record<string, unknown>;
    for (let i = 0; i < n; i++) abiCall(ex, INPUT);
    return Promise.resolve();
  });

  const guest = await WasmGuest.create(module);
  const guestWarm = await usPerCall(o.calls, o.repeats, (n) => {
    for (let i = 0; i < n; i++) {
      const r = guest.call(INPUT);
      if (!r.ok) throw new Error(r.reason);
    }
    return Promise.resolve();
  });

  const pool = new WasmPool({ size: 1 });
  let platform: number;
  try {
    const runner = new JobicoletRunner(() => Promise.resolve(bytes), { pool });
    const job: RunJob = {
      tenant: "bench",
      sha256: "echo",
      mainFunction: "event",
      input: INPUT,
      limits: {
        timeoutMs: DEFAULT_LIMITS.timeoutMs,
        memoryMb: DEFAULT_LIMITS.memoryMb,
        fuel: DEFAULT_LIMITS.fuel,
        outputKb: DEFAULT_LIMITS.outputKb,
      },
    };
    const batch = Array.from({ length: 64 }, () => job);
    platform = await usPerCall(o.calls, o.repeats, async (n) => {
      for (let done = 0; done < n; done += 64) {
        let failed = "";
        await runner.runBatch(
          batch.slice(0, Math.min(64, n - done)),
          (_, r) => {
            if (r.status !== "ok") failed = r.error ?? r.status;
          },
        );
        if (failed) throw new Error(`platform: ${failed}`);
      }
    });
  } finally {
    pool.close();
  }

  let extism: number | undefined;
  let extismError: string | undefined;
  if (!o.skipExtism) {
    try {
      const wasm = await compileWatText(
        "extism_echo.wat",
        await Deno.readTextFile(
          new URL("jobicolets/extism_echo.wat", import.meta.url),
        ),
      );
      extism = await extismUsPerCall(wasm, expected, o.calls, o.repeats);
    } catch (err) {
      extismError = String((err as Error)?.stack ?? err);
    }
  }
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    calls: o.calls,
    us: {
      rawFresh,
      rawWarm,
      guestWarm,
      platform,
      ...(extism !== undefined && { extism }),
    },
    ...(extismError && { extismError }),
    ratios: {
      platformOverRaw: r2(platform / rawFresh),
      platformOverRawWarm: r2(platform / rawWarm),
      ...(extism !== undefined &&
        { extismOverPlatform: r2(extism / platform) }),
    },
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(
    await executorOverheadBench({
      calls: Number(Deno.args[0] ?? 20_000),
      repeats: Number(Deno.args[1] ?? 3),
    }),
    null,
    2,
  ));
}
