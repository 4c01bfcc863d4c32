/**
 * Compiles the WAT test Jobicolets in this folder (`<name>.wat`) to wasm with
 * goico's test helper (the npm `wabt` package). Each name is compiled once
 * per process.
 *
 * ```ts
 * const bytes = await compileWat("echo");
 * const module = await WebAssembly.compile(bytes);
 * ```
 */
import { watFixtures } from "@jobico/goico/testing";

export { compileWatText } from "@jobico/goico/testing";

/** The names of the fixtures, i.e. the `.wat` files next to this module. */
export const FIXTURES = [
  "trap",
  "error",
  "trapping_free",
  "bad_log",
  "echo",
  "wasi_echo",
] as const;

/** Reads `tests/jobicolets/<name>.wat` and returns its wasm binary (cached). */
export const compileWat: (name: string) => Promise<Uint8Array> = watFixtures(
  new URL("./", import.meta.url),
);
