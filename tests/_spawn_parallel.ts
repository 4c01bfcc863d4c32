/** Starts the platform as `deno serve --parallel serve.ts`, for tests and benchmarks. */

/** A running `deno serve --parallel` process. */
export interface ParallelServer {
  /** Where its isolates listen, e.g. http://127.0.0.1:41685 (no trailing slash). */
  url: string;
  child: Deno.ChildProcess;
  /** The last lines it wrote to stderr (its log), for a failure's message. */
  log(): string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<Deno.CommandStatus>;
}

const LOG_TAIL = 16_384;

/**
 * `deno serve --parallel` with `jobs` isolates, as `deno task serve:parallel`
 * runs it, on a port the kernel chooses (`--port 0`: the isolates share it)
 * and read back from the "Listening on" line. Never a port found free first
 * and passed on: another process (a server on port 0, a client's
 * connection) can take it in between and the test then talks to that.
 */
export async function spawnParallel(
  data: string,
  jobs: number,
  adminToken: string,
  components = "ctl,repo,listener,recorder",
  env: Record<string, string> = {},
): Promise<ParallelServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      "--parallel",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
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
      JOBICO_LOG_LEVEL: "info",
      NO_COLOR: "1",
      ...env,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let tail = "";
  let listening: (url: string) => void = () => {};
  const found = new Promise<string>((r) => listening = r);
  const reading = (async () => {
    for await (
      const text of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      tail = (tail + text).slice(-LOG_TAIL);
      const m = tail.match(/Listening on (http:\/\/\S+?)\/?\s/);
      if (m) listening(m[1]);
    }
  })();
  const exited = child.status.then((s) => s);
  const timeout = new Promise<"timeout">((r) => {
    const t = setTimeout(() => r("timeout"), 60_000);
    exited.finally(() => clearTimeout(t));
    found.finally(() => clearTimeout(t));
  });
  const first = await Promise.race([found, exited, timeout]);
  const server: ParallelServer = {
    url: typeof first === "string" && first !== "timeout" ? first : "",
    child,
    log: () => tail,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      const status = await child.status;
      await reading;
      return status;
    },
  };
  if (server.url === "") {
    await server.stop();
    throw new Error(
      `deno serve --parallel did not start listening (${
        first === "timeout" ? "60 s passed" : "it exited"
      }); its log:\n${tail}`,
    );
  }
  return server;
}

/**
 * Waits (up to 60 s) until every one of `jobs` isolates has answered /meta,
 * each request on a new connection so the kernel spreads them.
 */
export async function waitIsolates(url: string, jobs: number) {
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (seen.size < jobs && Date.now() < deadline) {
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
