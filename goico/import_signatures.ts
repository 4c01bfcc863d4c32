/**
 * The signatures of the functions the host gives a Jobicolet (`env.log` and
 * WASI preview 1), and a check of a module's imports against them. V8 links
 * an import by name and calls it with whatever types the module declared:
 * `env.log` imported with i64 parameters, say, uploads fine and fails every
 * execution as a "host failure" (a BigInt where a number was expected).
 * Checked at upload instead, naming the import and both signatures.
 *
 * @module
 */
import { readModule } from "./_meter_module.ts";
import { WasmReader } from "./_wasm_reader.ts";

/** `params -> results`, each a list of value types: `"i32,i32 -> i32"`. */
type Signature = string;

const I = "i32", L = "i64";
const sig = (params: string[], results: string[] = [I]): Signature =>
  `${params.join(",")} -> ${results.join(",")}`;

/** What the host provides: module -> function -> signature. */
export const HOST_SIGNATURES: Record<string, Record<string, Signature>> = {
  env: { log: sig([I, I, I], []) },
  wasi_snapshot_preview1: {
    args_get: sig([I, I]),
    args_sizes_get: sig([I, I]),
    environ_get: sig([I, I]),
    environ_sizes_get: sig([I, I]),
    clock_res_get: sig([I, I]),
    clock_time_get: sig([I, L, I]),
    fd_advise: sig([I, L, L, I]),
    fd_allocate: sig([I, L, L]),
    fd_close: sig([I]),
    fd_datasync: sig([I]),
    fd_fdstat_get: sig([I, I]),
    fd_fdstat_set_flags: sig([I, I]),
    fd_fdstat_set_rights: sig([I, L, L]),
    fd_filestat_get: sig([I, I]),
    fd_filestat_set_size: sig([I, L]),
    fd_filestat_set_times: sig([I, L, L, I]),
    fd_pread: sig([I, I, I, L, I]),
    fd_prestat_get: sig([I, I]),
    fd_prestat_dir_name: sig([I, I, I]),
    fd_pwrite: sig([I, I, I, L, I]),
    fd_read: sig([I, I, I, I]),
    fd_readdir: sig([I, I, I, L, I]),
    fd_renumber: sig([I, I]),
    fd_seek: sig([I, L, I, I]),
    fd_sync: sig([I]),
    fd_tell: sig([I, I]),
    fd_write: sig([I, I, I, I]),
    path_create_directory: sig([I, I, I]),
    path_filestat_get: sig([I, I, I, I, I]),
    path_filestat_set_times: sig([I, I, I, I, L, L, I]),
    path_link: sig([I, I, I, I, I, I, I]),
    path_open: sig([I, I, I, I, I, L, L, I, I]),
    path_readlink: sig([I, I, I, I, I, I]),
    path_remove_directory: sig([I, I, I]),
    path_rename: sig([I, I, I, I, I, I]),
    path_symlink: sig([I, I, I, I, I]),
    path_unlink_file: sig([I, I, I]),
    poll_oneoff: sig([I, I, I, I]),
    proc_exit: sig([I], []),
    proc_raise: sig([I]),
    sched_yield: sig([]),
    random_get: sig([I, I]),
    sock_accept: sig([I, I, I]),
    sock_recv: sig([I, I, I, I, I, I]),
    sock_send: sig([I, I, I, I, I]),
    sock_shutdown: sig([I, I]),
  },
};

const VALUE_TYPES: Record<number, string> = {
  0x7f: "i32",
  0x7e: "i64",
  0x7d: "f32",
  0x7c: "f64",
  0x7b: "v128",
  0x70: "funcref",
  0x6f: "externref",
};

/** The signature a type of the type section encodes (`0x60 params results`). */
function signatureOf(type: Uint8Array): Signature {
  const r = new WasmReader(type, 1);
  const list = () =>
    Array.from({ length: r.u32() }, () => {
      const b = r.peek();
      r.skipValType();
      return VALUE_TYPES[b] ?? "ref";
    });
  const params = list();
  return `${params.join(",")} -> ${list().join(",")}`;
}

/** How a signature reads in a message: `(i32, i32) -> i32`, `() -> ()`. */
function readable(s: Signature): string {
  const [params, results] = s.split(" -> ");
  const part = (l: string) => l ? l.split(",").join(", ") : "";
  const r = part(results);
  return `(${part(params)}) -> ${r.includes(",") || r === "" ? `(${r})` : r}`;
}

/**
 * The functions `bytes` imports from the host with another signature than
 * the host's, each as `"env"."log" (i64, i64, i64) -> () where the host has
 * (i32, i32, i32) -> ()`. Imports the host does not have at all are left
 * to `unprovidedImports`, and a module the meter cannot read to
 * `meterFuel`, which says why.
 */
export function mismatchedImports(bytes: Uint8Array): string[] {
  let info;
  try {
    info = readModule(bytes);
  } catch {
    return []; // what the meter cannot read, it refuses with its reason
  }
  const out: string[] = [];
  for (const { module, name, type } of info.funcImports) {
    const host = Object.hasOwn(HOST_SIGNATURES, module)
      ? HOST_SIGNATURES[module]
      : undefined;
    if (!host || !Object.hasOwn(host, name)) continue;
    const declared = info.types[type];
    if (!declared) continue; // an invalid index: compiling refused it
    const theirs = signatureOf(declared);
    if (theirs !== host[name]) {
      out.push(
        `"${module}"."${name}" as ${readable(theirs)} where the host has ${
          readable(host[name])
        }`,
      );
    }
  }
  return out;
}
