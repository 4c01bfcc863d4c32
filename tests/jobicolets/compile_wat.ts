/**
 * Compiles the WAT test Jobicolets in this folder (`<name>.wat`) to wasm with
 * the npm `wabt` package. Each name is compiled once per process.
 *
 * ```ts
 * const bytes = await compileWat("echo");
 * const module = await WebAssembly.compile(bytes);
 * ```
 */
import wabtFactory from "wabt";

type Wabt = Awaited<ReturnType<typeof wabtFactory>>;

let wabtPromise: Promise<Wabt> | undefined;
const cache = new Map<string, Promise<Uint8Array>>();

/** The names of the fixtures, i.e. the `.wat` files next to this module. */
export const FIXTURES = [
  "trap",
  "error",
  "trapping_free",
  "bad_log",
  "echo",
  "wasi_echo",
] as const;

async function compile(name: string): Promise<Uint8Array> {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new Error(`compileWat: bad fixture name ${JSON.stringify(name)}`);
  }
  const file = `${name}.wat`;
  const text = await Deno.readTextFile(new URL(file, import.meta.url));
  return await compileWatText(file, text);
}

/** Reads `tests/jobicolets/<name>.wat` and returns its wasm binary (cached). */
export async function compileWat(name: string): Promise<Uint8Array> {
  let bytes = cache.get(name);
  if (!bytes) {
    bytes = compile(name);
    cache.set(name, bytes);
    // A failure is not cached: the next call tries again.
    bytes.catch(() => cache.delete(name));
  }
  return await bytes;
}

/**
 * Compiles WAT source text (for tests that write a module inline). With
 * `validate: false` wabt's own validation is skipped (it lags the engine,
 * e.g. on multi-memory): the engine validates the bytes instead.
 */
export async function compileWatText(
  name: string,
  text: string,
  features: Record<string, boolean> = {},
  { validate = true }: { validate?: boolean } = {},
): Promise<Uint8Array> {
  wabtPromise ??= wabtFactory();
  const module = (await wabtPromise).parseWat(name, text, features);
  try {
    module.resolveNames();
    if (validate) module.validate();
    // Copy out of the wabt heap before the module is destroyed.
    return new Uint8Array(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}
