/**
 * Where a CPU profile's time went, by what the work was for: each sample of
 * a V8 `.cpuprofile` (written by `deno run --cpu-prof`) is given to one
 * category by looking at its stack, from the running frame outwards:
 *
 * 0. with the executor running in the same isolate (every component), any
 *    stack of its work (its lanes, the recording of executions, the sandbox
 *    pool and the messages of its Workers) counts for the executor, the KV
 *    ops and serializer it calls included, so that the listener's rows
 *    stay the listener's;
 * 1. a few frames of the runtime that name their purpose wherever they are
 *    (the KV's value serializer, the KV commit op, the garbage collector);
 * 2. else the innermost frame of the project or of an npm package, by file
 *    (the listener's steps, the logger, prom-client, OpenTelemetry...), so
 *    the runtime work a step calls (reading a header, a stream) counts for
 *    that step;
 * 3. else, for stacks of the runtime alone, Deno's HTTP server (which reads
 *    requests and writes responses), or the rest of the runtime.
 *
 * Only samples within a window (the load, in the profile's clock, which on
 * Linux is CLOCK_MONOTONIC as /proc/uptime shows it) are counted.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  /** µs, the profile's clock. */
  startTime: number;
  endTime: number;
}

/** The categories, in the order a request meets them; "idle" is not CPU. */
export const CATEGORIES = [
  "HTTP server (Deno: request in, response out)",
  "routing (Hono dispatch, route cache, names)",
  "auth",
  "body read",
  "JSON parse",
  "schema validation",
  "backpressure gauge",
  "size check (413)",
  "ids",
  "KV value serialization",
  "group commit and queue writes (JS)",
  "KV commit op (synchronous part)",
  "response (Hono c.json)",
  "request log line",
  "metrics",
  "tracing",
  "listener handler (its own code)",
  "other project code",
  "executor (leases, runs, records)",
  "garbage collector",
  "runtime (other)",
  /**
   * Not sampled: the main thread's CPU (from /proc) beyond its sampled JS
   * time. The profiler counts as idle what the runtime does outside JS on
   * the main thread: reading requests and writing responses (Rust),
   * polling for I/O, finishing ops.
   */
  "runtime outside JS (HTTP I/O, event loop)",
  "idle",
] as const;
export type Category = typeof CATEGORIES[number];

/** Runtime frames that say what they do wherever they are called from. */
function byRuntimeFrame(f: CallFrame): Category | undefined {
  const { functionName: fn, url } = f;
  if (fn === "(idle)") return "idle";
  if (fn === "(garbage collector)") return "garbage collector";
  if (url.endsWith("01_db.ts") && fn === "serializeValue") {
    return "KV value serialization";
  }
  if (fn === "op_kv_atomic_write") return "KV commit op (synchronous part)";
  return undefined;
}

/** Project files and npm packages, by path (the first that matches). */
const BY_FILE: [RegExp, Category][] = [
  [
    /goico\/logger\.ts$|goico\/line_batcher\.ts$|goico\/service\.ts$/,
    "request log line",
  ],
  [/prom-client|observe\/platform_metrics\.ts$/, "metrics"],
  [/@opentelemetry|observe\/tracing\.ts$/, "tracing"],
  [
    /authenticator\.ts$|webhook_auth\.ts$|webhook_signature\.ts$|principal\.ts$|tenant_store\.ts$/,
    "auth",
  ],
  [/read_body\.ts$/, "body read"],
  [/parse_json_body\.ts$/, "JSON parse"],
  [
    /ajv|re2js|linear_regexp\.ts$|describe_schema_error\.ts$|compile_schema\.ts$/,
    "schema validation",
  ],
  [/backlog_gauge\.ts$/, "backpressure gauge"],
  [/kv_key_size\.ts$|kv_value_size\.ts$/, "size check (413)"],
  [/monotonic_id\.ts$/, "ids"],
  [
    /group_commit\.ts$|durable_queue\.ts$|change_feed\.ts$|version_pins\.ts$|keys\.ts$|write_batch\.ts$/,
    "group commit and queue writes (JS)",
  ],
  [/\/hono\/[^/]+\/dist\/context\.js$/, "response (Hono c.json)"],
  [
    /registry\.npmjs\.org\/hono\/|check_name\.ts$|packages\/definitions\.ts$/,
    "routing (Hono dispatch, route cache, names)",
  ],
  [/listener\/[a-z_]+\.ts$/, "listener handler (its own code)"],
  [
    /guarded_server\.ts$|_connection_refuser\.ts$/,
    "HTTP server (Deno: request in, response out)",
  ],
];

function isRuntime(url: string): boolean {
  return url === "" || url.startsWith("ext:") || url.startsWith("node:") ||
    !url.includes("/");
}

/**
 * Frames of the executor's work: its component, the recording of
 * executions, the sandbox pool, the queue's leases, and the runtime's
 * delivery of the sandbox Workers' messages.
 */
function isExecutor(f: CallFrame): boolean {
  return /components\/executor\/|components\/executions\/|goico\/wasm_pool\.ts$|goico\/_wasm_calls\.ts$|goico\/queue_leases\.ts$/
    .test(f.url) ||
    (f.url.endsWith("11_workers.js") &&
      (f.functionName === "#pollMessages" ||
        f.functionName === "#dispatchWorkerMessage"));
}

/** The category of one sample, given its stack from the running frame out. */
export function categorize(stack: readonly CallFrame[]): Category {
  if (stack.some(isExecutor)) return "executor (leases, runs, records)";
  for (const f of stack) {
    const c = byRuntimeFrame(f);
    if (c) return c;
  }
  for (const f of stack) {
    // Ajv's compiled validators have no file: "validate" and a number.
    if (f.url === "" && /^validate\d*$/.test(f.functionName)) {
      return "schema validation";
    }
    if (isRuntime(f.url)) continue;
    // The record codec measures for the write's size, and encodes for writes.
    if (/record_codec\.ts$/.test(f.url)) {
      return stack.some((g) => /kv_value_size\.ts$/.test(g.url))
        ? "size check (413)"
        : "KV value serialization";
    }
    for (const [re, c] of BY_FILE) if (re.test(f.url)) return c;
    return "other project code";
  }
  if (
    stack.some((f) =>
      /ext:deno_http|ext:deno_net|00_serve|01_http/.test(f.url) ||
      f.functionName.startsWith("op_http")
    )
  ) return "HTTP server (Deno: request in, response out)";
  return "runtime (other)";
}

export interface Breakdown {
  /** Profile time within the window, ms. */
  windowMs: number;
  /** Samples counted. */
  samples: number;
  /** ms of the window in each category (idle included). */
  ms: Record<Category, number>;
}

/**
 * Sums the profile's time per category over the samples taken between
 * `fromUs` and `toUs` (the profile's clock; default: all of it).
 */
export function breakdown(
  profile: CpuProfile,
  fromUs = -Infinity,
  toUs = Infinity,
): Breakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const memo = new Map<number, Category>();
  const categoryOf = (id: number): Category => {
    let c = memo.get(id);
    if (c) return c;
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined;) {
      const node = byId.get(at);
      if (!node) break;
      stack.push(node.callFrame);
      at = parent.get(at);
    }
    c = categorize(stack);
    memo.set(id, c);
    return c;
  };
  const ms = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<
    Category,
    number
  >;
  let t = profile.startTime;
  let windowMs = 0;
  let samples = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) return;
    const d = dt / 1000;
    ms[categoryOf(id)] += d;
    windowMs += d;
    samples++;
  });
  return { windowMs, samples, ms };
}
