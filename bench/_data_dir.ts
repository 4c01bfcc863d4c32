/**
 * A data directory for a benchmarked platform: on the disk (a temporary
 * directory, as `deno task dev` keeps its KV file) or on a tmpfs mounted
 * for the run (no fsync cost: what the store costs without the disk). A
 * tmpfs needs root (`mount -t tmpfs`, see tests/_tmpfs.ts).
 */
import { mountTmpfs } from "../tests/_tmpfs.ts";

export type DataOn = "disk" | "tmpfs";

export interface DataDir {
  path: string;
  on: DataOn;
  /** Unmounts (a tmpfs) and removes the directory. */
  remove(): Promise<void>;
}

/**
 * A temporary directory on /dev/shm (a tmpfs every Linux has, no root
 * needed) when it takes one, else in the system's temporary directory: for
 * in-process benchmarks whose KV file should not wait on the disk.
 */
export function makeScratchDir(): Promise<string> {
  return Deno.makeTempDir({ dir: "/dev/shm" }).catch(() => Deno.makeTempDir());
}

/** Makes a data directory on the disk or on a new tmpfs (root only). */
export async function makeDataDir(on: DataOn): Promise<DataDir> {
  if (on === "tmpfs") {
    const fs = await mountTmpfs("4g").catch((err) => {
      throw new Error(
        `A tmpfs data directory needs root (mount -t tmpfs): ${err.message}`,
      );
    });
    return { path: fs.dir, on, remove: fs.unmount };
  }
  const path = await Deno.makeTempDir({ prefix: "jobico-bench-disk-" });
  return {
    path,
    on,
    remove: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
