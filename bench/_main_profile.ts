/**
 * The main isolate's CPU profile of a benchmarked server (`deno run
 * --cpu-prof --cpu-prof-dir=DIR`, written when it exits), and the clock to
 * cut a load's window out of it: V8 stamps samples with the system's
 * monotonic clock in µs, which /proc/uptime reads on Linux.
 */
import type { CpuProfile } from "./_breakdown.ts";
import { breakdown } from "./_breakdown.ts";

/** The `deno run` flags that write the profiles into `dir`. */
export function cpuProfFlags(dir: string): string[] {
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}

/** The monotonic clock of the profiles' samples, µs (10 ms steps). */
export async function uptimeUs(): Promise<number> {
  const text = await Deno.readTextFile("/proc/uptime");
  return Number(text.split(" ")[0]) * 1e6;
}

/**
 * The main isolate's profile in `dir` (Workers write
 * `....worker-N.cpuprofile` beside it), or undefined when there is none;
 * every profile is copied to `keepDir` first when given (created if
 * missing).
 */
export async function readMainProfile(
  dir: string,
  keepDir?: string,
): Promise<CpuProfile | undefined> {
  let profile: CpuProfile | undefined;
  if (keepDir) await Deno.mkdir(keepDir, { recursive: true });
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    if (keepDir) {
      await Deno.copyFile(`${dir}/${e.name}`, `${keepDir}/${e.name}`);
    }
    if (e.name.includes(".worker-")) continue;
    profile = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`));
  }
  return profile;
}

/**
 * µs per request the main isolate spent in JavaScript (and the ops it
 * called) between `fromUs` and `toUs`: the profile's samples that were not
 * idle. What the thread's CPU time from /proc has beyond it ran outside JS
 * (the HTTP server in Rust, polling, finishing ops).
 */
export function jsUsPerRequest(
  profile: CpuProfile,
  fromUs: number,
  toUs: number,
  requests: number,
): number {
  const b = breakdown(profile, fromUs, toUs);
  return Math.round((b.windowMs - b.ms.idle) * 10_000 / requests) / 10;
}
