/** Runs a Jobico server in its own process, as a user would, for tests. */
import { TEST_STATE_HOME } from "./_state_home.ts";

export interface SpawnedServer {
  url: string;
  /** The process id (its CPU time is in /proc/<pid>/stat). */
  pid: number;
  /** The JSON log lines it wrote to stderr so far. */
  seen: Record<string, unknown>[];
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<Deno.CommandStatus>;
  /** Sends SIGKILL and waits for the exit. */
  kill(): Promise<Deno.CommandStatus>;
}

export interface SpawnOptions {
  /**
   * Runs the server with this file descriptor limit (`ulimit -n` in a
   * shell that then execs deno): `soft` alone lowers only the soft limit,
   * both set both.
   */
  fdLimit?: { soft: number; hard?: number };
}

/**
 * Starts `deno <args>` (main.ts or `jobico serve`) with JOBICO_PORT=0 unless
 * `env` says otherwise, and resolves once it logged "listening".
 */
export async function spawnServer(
  args: string[],
  env: Record<string, string>,
  options: SpawnOptions = {},
): Promise<SpawnedServer> {
  const limit = options.fdLimit;
  const [cmd, cmdArgs] = limit
    ? [
      "sh",
      [
        "-c",
        (limit.hard === undefined ? "" : `ulimit -n ${limit.hard} && `) +
        `ulimit -Sn ${limit.soft} && exec "$0" "$@"`,
        Deno.execPath(),
        ...args,
      ],
    ]
    : [Deno.execPath(), args];
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env: {
      JOBICO_PORT: "0",
      NO_COLOR: "1",
      XDG_STATE_HOME: TEST_STATE_HOME,
      ...env,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const seen: Record<string, unknown>[] = [];
  let buf = "";
  let wake: () => void = () => {};
  const reading = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          seen.push(JSON.parse(line));
        } catch { /* not a log line */ }
      }
      wake();
    }
    wake();
  })();
  let exited = false;
  child.status.then(() => {
    exited = true;
    wake();
  });
  const deadline = Date.now() + 30_000;
  let listening: Record<string, unknown> | undefined;
  while (!listening && Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((r) => (wake = r)),
      new Promise<void>((r) => (timer = setTimeout(r, 200))),
    ]);
    clearTimeout(timer);
    listening = seen.find((l) => l.msg === "listening");
    if (!listening && exited) break;
  }
  if (!listening) {
    child.kill("SIGKILL");
    await child.status.catch(() => {});
    await reading;
    throw new Error(`The server did not start: ${JSON.stringify(seen)} ${buf}`);
  }
  return {
    url: listening.url as string,
    pid: child.pid,
    seen,
    stop: async () => {
      child.kill("SIGTERM");
      const status = await child.status;
      await reading;
      return status;
    },
    kill: async () => {
      child.kill("SIGKILL");
      const status = await child.status;
      await reading;
      return status;
    },
  };
}
