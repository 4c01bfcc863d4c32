/**
 * The processes a benchmark talks to: the platform (main.ts, as
 * `deno task dev` starts it, with JOBICO_* settings) and the bare Hono
 * baseline, each in its own process, stopped with SIGTERM so that a CPU
 * profile (`--cpu-prof`) is written on the way out.
 */
import { TEST_STATE_HOME } from "../tests/_state_home.ts";

const ROOT = new URL("../", import.meta.url);

/** The admin token the benchmarks give the platform. */
export const BENCH_TOKEN = "bench-admin-token-0123456789";

export interface BenchProcess {
  url: string;
  pid: number;
  /** SIGTERM, then the exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

export interface PlatformProcessOptions {
  /** JOBICO_COMPONENTS; default all. */
  components?: string;
  /** More JOBICO_* settings. */
  env?: Record<string, string>;
  /** Flags for `deno run` before the script, e.g. `--cpu-prof`. */
  denoFlags?: string[];
  /** JOBICO_DATA; default a new temporary directory (removed on stop). */
  data?: string;
  /** Runs it with this file descriptor limit (`ulimit -n`, soft and hard). Default: this process's. */
  fdLimit?: number;
  /**
   * The checkout whose main.ts and deno.json run (an export of another
   * commit, to compare builds in one run). Default: this one.
   */
  root?: string;
}

/** The `deno run` arguments of main.ts, as `deno task dev` has them. */
export function mainArgs(
  denoFlags: string[] = [],
  root: string | URL = ROOT,
): string[] {
  const base = typeof root === "string"
    ? new URL(`file://${root.replace(/\/?$/, "/")}`)
    : root;
  return [
    "run",
    ...denoFlags,
    "--config",
    new URL("deno.json", base).pathname,
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys=hostname,osRelease",
    "--allow-ffi",
    new URL("main.ts", base).pathname,
  ];
}

/**
 * Starts the platform on a free port with its KV in a temporary directory
 * (a SQLite file on disk, as `deno task dev` keeps it) and waits until it
 * logs "listening" (or, at a log level that hides that line, until
 * /healthz answers). Its later log lines are read and dropped unparsed.
 */
export async function startPlatformProcess(
  options: PlatformProcessOptions = {},
): Promise<BenchProcess> {
  const tmp = options.data
    ? undefined
    : await Deno.makeTempDir({ prefix: "jobico-bench-" });
  const quiet = ["warn", "error"].includes(options.env?.JOBICO_LOG_LEVEL ?? "");
  const port = quiet ? freePort() : 0;
  const env: Record<string, string> = {
    JOBICO_PORT: String(port),
    JOBICO_DATA: options.data ?? tmp!,
    JOBICO_ADMIN_TOKEN: BENCH_TOKEN,
    NO_COLOR: "1",
    XDG_STATE_HOME: TEST_STATE_HOME,
    ...(options.components && { JOBICO_COMPONENTS: options.components }),
    ...options.env,
  };
  const p = await startUntil(
    mainArgs(options.denoFlags, options.root),
    env,
    "stderr",
    (line) => {
      try {
        const l = JSON.parse(line);
        return l.msg === "listening" ? l.url : undefined;
      } catch {
        return undefined;
      }
    },
    options.fdLimit,
    quiet ? `http://127.0.0.1:${port}` : undefined,
  );
  return {
    ...p,
    stop: async () => {
      const status = await p.stop();
      if (tmp) await Deno.remove(tmp, { recursive: true }).catch(() => {});
      return status;
    },
  };
}

/** Starts bench/bare_hono.ts on a free port. */
export function startBareHono(denoFlags: string[] = []): Promise<BenchProcess> {
  return startScript("bare_hono.ts", ["--allow-net", ...denoFlags]);
}

/** Starts bench/naive_server.ts (the kv.enqueue design) on a free port. */
export function startNaiveServer(
  denoFlags: string[] = [],
): Promise<BenchProcess> {
  return startScript("naive_server.ts", ["-A", ...denoFlags]);
}

/**
 * Starts a script of bench/ that prints `{"url": ...}` on stdout once it
 * listens.
 */
export async function startScript(
  script: string,
  flags: string[],
  scriptArgs: string[] = [],
): Promise<BenchProcess> {
  return await startUntil(
    [
      "run",
      ...flags,
      "--config",
      new URL("deno.json", ROOT).pathname,
      new URL(`bench/${script}`, ROOT).pathname,
      ...scriptArgs,
    ],
    { NO_COLOR: "1" },
    "stdout",
    (line) => {
      try {
        return JSON.parse(line).url;
      } catch {
        return undefined;
      }
    },
  );
}

/** A port that was free a moment ago. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resolves with `url` once its /healthz answers. */
async function healthy(url: string, signal: AbortSignal): Promise<string> {
  while (!signal.aborted) {
    try {
      await (await fetch(`${url}/healthz`, { signal })).body?.cancel();
      return url;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return url;
}

/**
 * Spawns `deno <args>` and resolves once `ready` finds the URL in a line of
 * `stream`, or `probe`'s /healthz answers; the rest of that stream is
 * drained without being parsed.
 */
async function startUntil(
  args: string[],
  env: Record<string, string>,
  stream: "stdout" | "stderr",
  ready: (line: string) => string | undefined,
  fdLimit?: number,
  probe?: string,
): Promise<BenchProcess> {
  const [cmd, cmdArgs] = fdLimit === undefined ? [Deno.execPath(), args] : [
    "sh",
    ["-c", `ulimit -n ${fdLimit} && exec "$0" "$@"`, Deno.execPath(), ...args],
  ];
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env,
    stdin: "null",
    stdout: stream === "stdout" ? "piped" : "null",
    stderr: stream === "stderr" ? "piped" : "inherit",
  }).spawn();
  const reader = child[stream].getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let url: string | undefined;
  const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const probing = new AbortController();
  const up = probe ? healthy(probe, probing.signal) : undefined;
  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  try {
    while (url === undefined) {
      reading ??= reader.read();
      const next = await (up ? Promise.race([reading, up]) : reading);
      if (typeof next === "string") {
        url = next;
        break;
      }
      reading = undefined;
      const { value, done } = next;
      if (done) {
        throw new Error(`The process ended before it listened: ${buf}`);
      }
      buf += decoder.decode(value, { stream: true });
      let nl;
      while (url === undefined && (nl = buf.indexOf("\n")) >= 0) {
        url = ready(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
  } finally {
    clearTimeout(timeout);
    probing.abort();
  }
  const draining = (async () => {
    try {
      if (reading && (await reading).done) return;
      while (!(await reader.read()).done) { /* dropped */ }
    } catch { /* the process went */ }
  })();
  return {
    url,
    pid: child.pid,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const status = await child.status;
      await draining;
      return status;
    },
  };
}
