/**
 * Reads a V8 `.cpuprofile` (written by `deno run --cpu-prof`) and sums the
 * self time of each call frame (function, file and line): where the CPU
 * went, as shares of the profile's samples.
 *
 * Run: deno run --allow-read bench/_profile.ts <file.cpuprofile> [top]
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface FrameShare {
  /** `function (file:line)`, the file shortened to the project or package path. */
  frame: string;
  /** Self time in ms. */
  ms: number;
  /** Of all sampled time, 0 to 1. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples in "(idle)": the isolate waited (I/O, the KV, timers). */
  idle: number;
  top: FrameShare[];
  /** Self time by file (project file or npm package), busiest first. */
  byFile: FrameShare[];
}

function shortUrl(url: string): string {
  if (!url) return "";
  const npm = /\/npm\/registry\.npmjs\.org\/([^/]+(?:\/[^/]+)?)\/[^/]+\/(.*)$/
    .exec(url);
  if (npm) return `npm:${npm[1].replace(/\/.*/, "")}/${npm[2]}`;
  const i = url.indexOf("/work/main/");
  if (i >= 0) return url.slice(i + "/work/main/".length);
  const m = /\/(goico|components|bench|tests)\/.*$/.exec(url);
  return m ? m[0].slice(1) : url.replace(/^.*\//, "");
}

/** Sums self time per call frame from the samples and their time deltas. */
export function summarizeProfile(
  profile: CpuProfile,
  top = 25,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") idle += dt;
    const file = shortUrl(url) || functionName;
    const key = `${functionName || "(anonymous)"} (${
      shortUrl(url) || "native"
    }:${lineNumber + 1})`;
    self.set(key, (self.get(key) ?? 0) + dt);
    files.set(file, (files.get(file) ?? 0) + dt);
  });
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([frame, ms]) => ({
      frame,
      ms: Math.round(ms),
      share: total ? Math.round((ms / total) * 1000) / 1000 : 0,
    }));
  return {
    totalMs: Math.round(total),
    idle: total ? Math.round((idle / total) * 1000) / 1000 : 0,
    top: rank(self),
    byFile: rank(files),
  };
}

/** Summarizes the newest `.cpuprofile` in a directory. */
export async function summarizeProfileDir(
  dir: string,
  top = 25,
): Promise<ProfileSummary | null> {
  let newest: { path: string; mtime: number } | null = null;
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    const path = `${dir}/${e.name}`;
    const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    if (!newest || mtime > newest.mtime) newest = { path, mtime };
  }
  if (!newest) return null;
  return summarizeProfile(
    JSON.parse(await Deno.readTextFile(newest.path)),
    top,
  );
}

if (import.meta.main) {
  const file = Deno.args[0];
  const s = summarizeProfile(
    JSON.parse(await Deno.readTextFile(file)),
    Number(Deno.args[1] ?? 30),
  );
  console.log(`total ${s.totalMs} ms, idle ${(s.idle * 100).toFixed(1)}%`);
  for (const f of s.top) {
    console.log(`${(f.share * 100).toFixed(1).padStart(5)}%  ${f.frame}`);
  }
  console.log("-- by file");
  for (const f of s.byFile) {
    console.log(`${(f.share * 100).toFixed(1).padStart(5)}%  ${f.frame}`);
  }
}
