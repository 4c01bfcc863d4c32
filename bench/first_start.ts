/**
 * A new user's first start: `deno task dev` on an empty Deno cache (a fresh
 * DENO_DIR), as after a fresh clone. Measures the bytes the cache holds
 * once the platform listens and the seconds until it says `listening`;
 * then a `deno task jobico` call on that cache, which must print nothing
 * but its answer (no `Download` lines). Needs the npm registry.
 *
 *   deno run -A bench/first_start.ts [--runs=1]
 *
 * The seconds include the network (on this machine each first lookup of
 * registry.npmjs.org waits 5 s for an AAAA answer that never comes, so
 * about 5 to 10 s of any figure is DNS, whatever is downloaded); the bytes
 * do not depend on it.
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).pathname;

export interface FirstStart {
  seconds: number;
  bytes: number;
  packages: number;
  /** What `deno task jobico --version` wrote on stdout, and its stderr lines. */
  cli: { stdout: string; downloads: number };
}

async function bytesOf(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) total += await bytesOf(path);
    else if (e.isFile) total += (await Deno.lstat(path)).size;
  }
  return total;
}

async function packagesIn(denoDir: string): Promise<number> {
  let n = 0;
  const reg = `${denoDir}/npm/registry.npmjs.org`;
  try {
    for await (const e of Deno.readDir(reg)) {
      if (!e.name.startsWith("@")) n++;
      else for await (const _ of Deno.readDir(`${reg}/${e.name}`)) n++;
    }
  } catch {
    // nothing downloaded
  }
  return n;
}

export async function firstStart(): Promise<FirstStart> {
  const denoDir = await Deno.makeTempDir({ prefix: "jobico-denodir-" });
  const data = await Deno.makeTempDir({ prefix: "jobico-first-start-" });
  const env = {
    DENO_DIR: denoDir,
    JOBICO_PORT: "0",
    JOBICO_DATA: `${data}/data`,
    XDG_STATE_HOME: `${data}/state`,
    NO_COLOR: "1",
  };
  try {
    const t0 = performance.now();
    const dev = new Deno.Command(Deno.execPath(), {
      args: ["task", "dev"],
      cwd: ROOT,
      env,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = dev.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let seconds = NaN;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`deno task dev ended:\n${text}`);
      text += value;
      if (/"msg":"listening"/.test(text)) {
        seconds = (performance.now() - t0) / 1000;
        break;
      }
    }
    const bytes = await bytesOf(denoDir);
    const packages = await packagesIn(denoDir);
    const cli = await new Deno.Command(Deno.execPath(), {
      args: ["task", "jobico", "--version"],
      cwd: ROOT,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    dev.kill("SIGTERM");
    reader.releaseLock();
    await dev.stderr.cancel().catch(() => {});
    await dev.status;
    return {
      seconds: Math.round(seconds * 10) / 10,
      bytes,
      packages,
      cli: {
        stdout: new TextDecoder().decode(cli.stdout),
        downloads: new TextDecoder().decode(cli.stderr).split("\n")
          .filter((l) => /Download/.test(l)).length,
      },
    };
  } finally {
    await Deno.remove(denoDir, { recursive: true }).catch(() => {});
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "1" } },
  });
  for (let i = 0; i < Number(values.runs); i++) {
    console.log(JSON.stringify(await firstStart()));
  }
}
