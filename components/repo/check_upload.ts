/**
 * The checks an upload passes before it is stored, by kind: a module is
 * compiled, its imports are checked against what the host provides (names
 * and types), and it is metered with the highest memory limit (what cannot
 * be metered, or starts above the limit, is refused now, not at run time);
 * a schema is compiled with its bounds (compile_schema.ts). Pure: the
 * platform runs it in a Worker (`UploadChecker`), so that a costly upload
 * does not hold the main isolate; tests may run it in process.
 */
import {
  formatImportList,
  meterFuel,
  mismatchedImports,
  unprovidedImports,
  ValidationError,
} from "@jobico/goico";
import type { FileKind } from "../model/job_package.ts";
import { compileSchema } from "./compile_schema.ts";

/**
 * Checks an upload of `kind`.
 *
 * @throws {ValidationError} naming the file and what is wrong with it
 */
export async function checkUpload(
  kind: FileKind,
  name: string,
  bytes: Uint8Array,
  maxMemoryMb: number,
): Promise<void> {
  if (kind === "schema") {
    compileSchema(name, bytes);
    return;
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch {
    throw new ValidationError(
      `File "${name}" is not a valid WebAssembly module`,
    );
  }
  // The host gives a Jobicolet env.log and WASI preview 1: refuse now what would fail to instantiate.
  const unprovided = unprovidedImports(module);
  if (unprovided.length > 0) {
    throw new ValidationError(
      `Module "${name}" imports ${
        formatImportList(unprovided)
      }, which the host does not provide`,
      { imports: unprovided },
    );
  }
  // V8 links by name alone: a wrong signature would fail every run.
  const mismatched = mismatchedImports(bytes);
  if (mismatched.length > 0) {
    throw new ValidationError(
      `Module "${name}" imports ${
        formatImportList(mismatched, 3)
      }: the host's functions take and return those types only`,
      { imports: mismatched },
    );
  }
  try {
    // Every module runs with an instruction budget and a memory limit:
    // refuse what cannot be metered, or starts above the highest limit,
    // now, not at run time.
    meterFuel(bytes, {
      memoryLimitPages: maxMemoryMb * 16,
      interrupt: true,
    });
  } catch (err) {
    throw new ValidationError(
      `Module "${name}" cannot run within the sandbox's limits: ${
        (err as Error).message
      }`,
      {},
      { cause: err },
    );
  }
}
