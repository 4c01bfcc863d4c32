/**
 * Goico's help for tests of code that runs WebAssembly: WAT (the text
 * format) compiled to a module's bytes with the npm `wabt` package, so tests
 * build their modules from source instead of carrying binaries.
 *
 * ```ts
 * import { compileWatText } from "@jobico/goico/testing";
 * const bytes = await compileWatText("inline.wat", "(module)");
 * ```
 *
 * @module
 */
import wabtFactory from "wabt";

type Wabt = Awaited<ReturnType<typeof wabtFactory>>;

let wabtPromise: Promise<Wabt> | undefined;
const files = new Map<string, Promise<Uint8Array>>();

/** How {@linkcode compileWatText} treats the text. */
export interface CompileWatOptions {
  /**
   * Whether wabt validates the module. With `false` its own validation is
   * skipped (it lags the engine, e.g. on multi-memory): the engine validates
   * the bytes instead.
   *
   * @default {true}
   */
  validate?: boolean;
}

/**
 * Compiles WAT source text (for tests that write a module inline).
 * `features` turns wabt's proposals on or off (e.g. `{ multi_memory: true }`).
 *
 * @example
 * ```ts
 * const bytes = await compileWatText("m.wat", "(module (func (export \"f\")))");
 * await WebAssembly.compile(bytes);
 * ```
 */
export async function compileWatText(
  name: string,
  text: string,
  features: Record<string, boolean> = {},
  { validate = true }: CompileWatOptions = {},
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

/**
 * Reads a `.wat` file and returns its module's bytes, compiled once per
 * file and process (a failure is not kept: the next call tries again).
 *
 * @example
 * ```ts
 * const bytes = await compileWatFile(new URL("./echo.wat", import.meta.url));
 * ```
 */
export async function compileWatFile(file: URL): Promise<Uint8Array> {
  let bytes = files.get(file.href);
  if (!bytes) {
    bytes = Deno.readTextFile(file).then((text) =>
      compileWatText(file.pathname.split("/").at(-1)!, text)
    );
    files.set(file.href, bytes);
    bytes.catch(() => files.delete(file.href));
  }
  return await bytes;
}

/**
 * The modules of the `.wat` files of one folder, by name: the function it
 * returns compiles `<folder>/<name>.wat` (cached as
 * {@linkcode compileWatFile} does). A name is letters, digits, `_` and `-`:
 * nothing outside the folder can be named.
 *
 * @example
 * ```ts
 * const compileWat = watFixtures(new URL("./jobicolets/", import.meta.url));
 * const echo = await compileWat("echo"); // ./jobicolets/echo.wat
 * ```
 */
export function watFixtures(
  folder: URL,
): (name: string) => Promise<Uint8Array> {
  return async (name) => {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new Error(`compileWat: bad fixture name ${JSON.stringify(name)}`);
    }
    return await compileWatFile(new URL(`${name}.wat`, folder));
  };
}
export {
  ensurePostgres,
  type PgCluster,
  type PgClusterOptions,
  startPgCluster,
  stopPgCluster,
} from "./pg/pg_cluster.ts";
export { pgTestDatabase, pgTestUrl } from "./pg/pg_test_database.ts";
