/**
 * The Extism baseline of bench/executor_overhead.ts: `npm:@extism/extism`
 * running a module (bench/jobicolets/extism_echo.wat, compiled by the
 * caller) warm in this isolate, `reset()` after each call. It runs in a
 * process of its own with the dev tools' lockfile (scripts/dev_tools.ts):
 * Extism is not in deno.lock. {@linkcode extismUsPerCall} runs it.
 *
 *   deno run ... bench/_extism_baseline.ts <module.wasm> <input> <calls> <repeats>
 *
 * @module
 */
import { DEV_TOOLS, devToolArgs } from "../scripts/dev_tools.ts";
import { usPerCall } from "./_us_per_call.ts";

/** µs per call of the echo through Extism, measured in a subprocess. */
export async function extismUsPerCall(
  wasm: Uint8Array,
  input: string,
  calls: number,
  repeats: number,
): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "jobico-extism-" });
  try {
    const file = `${dir}/extism_echo.wasm`;
    await Deno.writeFile(file, wasm);
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: devToolArgs(
        new URL(import.meta.url).pathname,
        // Extism reads EXTISM_* settings.
        ["--allow-env", `--allow-read=${dir}`],
        [file, input, String(calls), String(repeats)],
      ),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
    return Number(new TextDecoder().decode(stdout).trim());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const [file, input, calls, repeats] = Deno.args;
  // A specifier in a variable: `deno check .` does not resolve it.
  const tool = DEV_TOOLS.extism;
  const { default: createPlugin } = await import(tool);
  const plugin = await createPlugin(
    { wasm: [{ data: await Deno.readFile(file) }] },
    { useWasi: false, runInWorker: false },
  );
  const bytes = new TextEncoder().encode(input);
  try {
    const us = await usPerCall(Number(calls), Number(repeats), async (n) => {
      for (let i = 0; i < n; i++) {
        const out = await plugin.call("echo", bytes);
        if (out?.text() !== input) throw new Error("extism: bad echo");
        // The JS SDK never frees its blocks between calls: without a
        // reset its block index overflows after 16,383 calls ("cannot
        // assign to this block"). Its other SDKs reset at every call.
        await plugin.reset();
      }
    });
    console.log(us);
  } finally {
    await plugin.close();
  }
}
