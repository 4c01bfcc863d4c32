/**
 * A small tmpfs for disk-full tests (mounting needs root), filling it, and
 * the CPU time of a process. Deno refuses data paths under /dev, so the
 * mount point is a temporary directory. Needs --allow-run (mount, id, cat).
 */

/**
 * Whether this process runs as root. Deno needs --allow-sys for `Deno.uid()`
 * and --allow-all for /proc, so it asks `id -u`.
 */
export function isRoot(): boolean {
  try {
    const out = new Deno.Command("id", { args: ["-u"] }).outputSync();
    return new TextDecoder().decode(out.stdout).trim() === "0";
  } catch {
    return false;
  }
}

export interface Tmpfs {
  dir: string;
  /** Deletes what `fillDisk` wrote: the space returns. */
  free(): Promise<void>;
  unmount(): Promise<void>;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** Mounts a tmpfs of `size` (e.g. "8m") on a new temporary directory. */
export async function mountTmpfs(size: string): Promise<Tmpfs> {
  const dir = await Deno.makeTempDir({ prefix: "jobico-tmpfs-" });
  await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  return {
    dir,
    free: async () => {
      for (const name of ["filler", "reserve"]) {
        await Deno.remove(`${dir}/${name}`).catch(() => {});
      }
    },
    unmount: async () => {
      await run("umount", ["-l", dir]).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Fills the file system of `dir` with a file named "filler", leaving
 * `leaveBytes` free (a "reserve" file is written first, then deleted).
 */
export async function fillDisk(dir: string, leaveBytes = 0): Promise<void> {
  if (leaveBytes > 0) {
    await Deno.writeFile(`${dir}/reserve`, new Uint8Array(leaveBytes));
  }
  const f = await Deno.open(`${dir}/filler`, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) await f.write(chunk);
  } catch (err) {
    if (!/No space left/i.test(String(err))) throw err;
  } finally {
    f.close();
  }
  // Whatever a 64 KiB write could not take, byte by byte in 4 KiB.
  const g = await Deno.open(`${dir}/filler`, { append: true });
  try {
    for (;;) await g.write(new Uint8Array(4096));
  } catch (err) {
    if (!/No space left/i.test(String(err))) throw err;
  } finally {
    g.close();
  }
  if (leaveBytes > 0) await Deno.remove(`${dir}/reserve`);
}

/**
 * CPU seconds (user + system, all threads) a process used so far, from
 * /proc/<pid>/stat (read by `cat`: Deno lets only --allow-all read /proc).
 */
export function cpuSeconds(pid: number): number {
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/stat`] })
    .outputSync();
  if (!out.success) throw new Error(`No process ${pid}`);
  const stat = new TextDecoder().decode(out.stdout);
  // Fields after the command name (which may hold spaces) in parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}
