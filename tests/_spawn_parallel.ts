/** Starts the platform as `deno serve --parallel serve.ts`, for tests and benchmarks. */

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `deno serve --parallel` with `jobs` isolates, as `deno task serve:parallel` runs it. */
export function spawnParallel(
  data: string,
  port: number,
  jobs: number,
  adminToken: string,
  components = "ctl,repo,listener,recorder",
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      "--parallel",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys=hostname,osRelease",
      new URL("../serve.ts", import.meta.url).pathname,
    ],
    env: {
      DENO_JOBS: String(jobs),
      JOBICO_DATA: data,
      JOBICO_ADMIN_TOKEN: adminToken,
      JOBICO_COMPONENTS: components,
      JOBICO_LOG_LEVEL: "warn",
      NO_COLOR: "1",
      ...env,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Waits until every one of `jobs` isolates has answered /meta. */
export async function waitIsolates(url: string, jobs: number) {
  const seen = new Set<string>();
  for (let i = 0; i < 600 && seen.size < jobs; i++) {
    try {
      const res = await fetch(url + "/meta", {
        headers: { connection: "close" },
      });
      if (res.ok) seen.add((await res.json()).instance);
      else await res.body?.cancel();
    } catch { /* not up yet */ }
    if (seen.size < jobs) await new Promise((r) => setTimeout(r, 25));
  }
  return seen;
}
