/**
 * A data directory for a benchmarked platform: on the disk (a temporary
 * directory, as `deno task dev` keeps its KV file) or on a tmpfs mounted
 * for the run (no fsync cost: what the store costs without the disk). A
 * tmpfs needs root (`mount -t tmpfs`); Deno refuses paths under /dev, so
 * /dev/shm cannot stand in.
 */

export type DataOn = "disk" | "tmpfs";

export interface DataDir {
  path: string;
  on: DataOn;
  /** Unmounts (a tmpfs) and removes the directory. */
  remove(): Promise<void>;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/** Makes a data directory on the disk or on a new tmpfs (root only). */
export async function makeDataDir(on: DataOn): Promise<DataDir> {
  const path = await Deno.makeTempDir({ prefix: `jobico-bench-${on}-` });
  if (on === "tmpfs") {
    try {
      await run("mount", ["-t", "tmpfs", "-o", "size=4g", "tmpfs", path]);
    } catch (err) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
      throw new Error(
        `A tmpfs data directory needs root (mount -t tmpfs): ${
          (err as Error).message
        }`,
      );
    }
  }
  return {
    path,
    on,
    remove: async () => {
      if (on === "tmpfs") await run("umount", [path]).catch(() => {});
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}
