/**
 * Drives HTTP load from a separate process: wrk (installed with apt-get
 * when missing and running as root, as scripts/build_examples.ts installs
 * clang) with a Lua script that POSTs one body over `connections`
 * keep-alive connections; or, when wrk cannot be had, bench/load_gen.ts
 * (keep-alive fetch loops in their own Deno process).
 */
export interface LoadSpec {
  url: string;
  body: string;
  headers?: Record<string, string>;
  /** Concurrent keep-alive connections. */
  connections: number;
  seconds: number;
  /** wrk threads. Default 1. */
  threads?: number;
  /**
   * A header every request carries with a value of its own, never repeated
   * within the load or across loads (an `idempotency-key`, as careful
   * senders send one with each new event).
   */
  uniqueHeader?: string;
  /** What the unique header's values start with (`Bearer jbt_`, say). */
  uniquePrefix?: string;
  /**
   * Signs every request as a signed webhook's sender does (a
   * `Jobico-Signature` over the body, components/listener/webhook_signature.ts)
   * with this secret, and replaces `{unique}` in the body with a value of
   * its own on each request (a signed copy is refused as a replay). wrk
   * cannot sign: such a load runs on bench/load_gen.ts.
   */
  signWith?: string;
}

export interface LoadResult {
  /** Requests answered (any status). */
  requests: number;
  /** Of them, not 2xx. */
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
  seconds: number;
  /** Requests per second answered 2xx. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  generator: "wrk" | "deno";
}

let tool: Promise<"wrk" | "deno"> | undefined;

async function has(cmd: string, args: string[]): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

async function aptInstall(pkg: string): Promise<boolean> {
  const run = (args: string[]) =>
    new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "null",
    }).output().then((o) => o.success, () => false);
  if (await run(["install", "-y", "--no-install-recommends", pkg])) return true;
  return await run(["update"]) &&
    await run(["install", "-y", "--no-install-recommends", pkg]);
}

/**
 * "wrk" when it is on PATH or could be installed (apt-get, as root), else
 * "deno". JOBICO_BENCH_LOADGEN=deno forces the Deno generator.
 */
export function loadTool(): Promise<"wrk" | "deno"> {
  tool ??= (async () => {
    if (Deno.env.get("JOBICO_BENCH_LOADGEN") === "deno") return "deno";
    if (await has("wrk", ["-v"])) return "wrk";
    if (Deno.uid?.() === 0 && await has("apt-get", ["--version"])) {
      console.error("bench: installing wrk with apt-get");
      if (await aptInstall("wrk") && await has("wrk", ["-v"])) return "wrk";
    }
    console.error(
      "bench: wrk is not available (apt-get install wrk); using bench/load_gen.ts",
    );
    return "deno";
  })();
  return tool;
}

/** The wrk command line of a spec (the Lua script path is given). */
export function wrkArgs(spec: LoadSpec, script: string): string[] {
  return [
    `-t${spec.threads ?? 1}`,
    `-c${spec.connections}`,
    `-d${spec.seconds}s`,
    "--timeout",
    "10s",
    "-s",
    script,
    spec.url,
  ];
}

/** The Lua script that makes wrk POST the body and print a JSON summary. */
export function wrkScript(spec: LoadSpec): string {
  const headers = { "content-type": "application/json", ...spec.headers };
  const lua = (s: string) => `[==[${s}]==]`;
  return [
    `wrk.method = "POST"`,
    `wrk.body = ${lua(spec.body)}`,
    ...Object.entries(headers).map(([k, v]) =>
      `wrk.headers[ ${lua(k)} ] = ${lua(v)}`
    ),
    ...(spec.uniqueHeader
      ? uniqueHeaderLua(spec.uniqueHeader, spec.uniquePrefix ?? "")
      : []),
    `function done(summary, latency, requests)`,
    `  local e = summary.errors`,
    `  io.write(string.format('\\n{"requests":%d,"non2xx":%d,"errors":%d,"us":%d,"p50":%d,"p99":%d}\\n',`,
    `    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,`,
    `    summary.duration, latency:percentile(50), latency:percentile(99)))`,
    `end`,
    "",
  ].join("\n");
}

/**
 * Lua that gives every request its own value of `name`: `prefix`, the
 * load's random part, the wrk thread's number and a count.
 */
function uniqueHeaderLua(name: string, prefix: string): string[] {
  return [
    `local threads = 0`,
    `function setup(thread)`,
    `  thread:set("tid", threads)`,
    `  threads = threads + 1`,
    `end`,
    `local n = 0`,
    `function request()`,
    `  n = n + 1`,
    `  wrk.headers[ [==[${name}]==] ] = [==[${prefix}]==] .. "${crypto.randomUUID()}-" .. (tid or 0) .. "-" .. n`,
    `  return wrk.format()`,
    `end`,
  ];
}

/** Runs one load and returns what was answered. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const which = spec.signWith ? "deno" : await loadTool();
  const dir = await Deno.makeTempDir({ prefix: "jobico-load-" });
  try {
    if (which === "wrk") {
      const script = `${dir}/post.lua`;
      await Deno.writeTextFile(script, wrkScript(spec));
      const out = await new Deno.Command("wrk", {
        args: wrkArgs(spec, script),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      const line = text.trim().split("\n").findLast((l) => l.startsWith("{"));
      if (!out.success || !line) {
        throw new Error(
          `wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`,
        );
      }
      const r = JSON.parse(line);
      const seconds = r.us / 1e6;
      return {
        requests: r.requests,
        non2xx: r.non2xx,
        errors: r.errors,
        seconds,
        rps: (r.requests - r.non2xx) / seconds,
        p50Ms: r.p50 / 1000,
        p99Ms: r.p99 / 1000,
        generator: "wrk",
      };
    }
    const specFile = `${dir}/spec.json`;
    await Deno.writeTextFile(
      specFile,
      JSON.stringify({
        url: spec.url,
        body: spec.body,
        headers: { "content-type": "application/json", ...spec.headers },
        connections: spec.connections,
        seconds: spec.seconds,
        uniqueHeader: spec.uniqueHeader,
        uniquePrefix: spec.uniquePrefix,
        signWith: spec.signWith,
      }),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        new URL("load_gen.ts", import.meta.url).pathname,
        specFile,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    return {
      ...r,
      rps: (r.requests - r.non2xx) / r.seconds,
      generator: "deno",
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
