/**
 * The process's file descriptor limit (RLIMIT_NOFILE), and the connection
 * limit that leaves room beside it for the store, Workers and files.
 *
 * Deno 2.9 raises its soft limit to the hard one when it starts (measured:
 * `prlimit --nofile=256:20000 deno ...` runs with 20000), but gives a
 * program no way to read it: `/proc/self/limits` needs --allow-all and
 * there is no getrlimit API. With --allow-ffi, `fdLimit` asks libc (Linux
 * only) and raises the soft limit to the hard one if it is still lower;
 * without it, the limit is unknown and `maxConnectionsFor` assumes the
 * common 1024.
 */

export interface FdLimit {
  soft: number;
  hard: number;
}

/** The limit assumed when it cannot be read. */
export const ASSUMED_FD_LIMIT = 1024;

const RLIMIT_NOFILE = 7; // Linux

let known: FdLimit | null | undefined;

/**
 * The file descriptor limit, raised to the hard limit where this process
 * may (Linux, --allow-ffi granted); `undefined` when it cannot be read.
 * Never prompts for a permission.
 */
export function fdLimit(): FdLimit | undefined {
  if (known !== undefined) return known ?? undefined;
  known = null;
  if (
    Deno.build.os !== "linux" ||
    Deno.permissions.querySync({ name: "ffi" }).state !== "granted"
  ) return undefined;
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", {
      getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
      setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    });
  } catch {
    return undefined;
  }
  try {
    const lim = new BigUint64Array(2);
    if (lib.symbols.getrlimit(RLIMIT_NOFILE, lim) !== 0) return undefined;
    if (lim[0] < lim[1]) {
      const raised = new BigUint64Array([lim[1], lim[1]]);
      if (lib.symbols.setrlimit(RLIMIT_NOFILE, raised) === 0) lim[0] = lim[1];
    }
    const cap = (n: bigint) =>
      n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
    known = { soft: cap(lim[0]), hard: cap(lim[1]) };
    return known;
  } finally {
    lib.close();
  }
}

/**
 * The connections a process with `limit` file descriptors may hold: the
 * limit less a reserve of a tenth of it, at least 128 (an idle platform
 * with two Workers holds 44 descriptors), and never fewer than 16.
 */
export function maxConnectionsFor(limit: number = ASSUMED_FD_LIMIT): number {
  return Math.max(16, limit - Math.max(128, Math.ceil(limit / 10)));
}
