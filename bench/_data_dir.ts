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
