/**
 * Where a request's time goes in the listener under load: the platform
 * (main.ts, as `deno task dev` runs it) with a CPU profile of its main
 * isolate (`--cpu-prof`) takes `seconds` of wrk load; then
 *
 * - the CPU time of each of its threads over the load, per request, from
 *   /proc (main isolate, the KV's SQLite thread, the rest);
 * - the main isolate's CPU per request split by purpose (bench/_breakdown.ts
 *   gives each profile sample taken during the load to routing, auth, body
 *   read, JSON parse, schema, ids, KV serialization, the commit, the log
 *   line, metrics, tracing, the response...; with `--components` holding
 *   the executor, its work gets a row of its own);
 * - the commit wait per request and requests per commit, from the
 *   listener's group commit counters at /metrics, read before and after.
 *
 *   deno run -A bench/ingest_breakdown.ts [--seconds=5] [--items=1]
 *     [--connections=32] [--data=disk|tmpfs] [--components=ctl,repo,listener]
 *     [--root=DIR] [--env=K=V ...] [--auth=admin|tenant|signed] [--idempotency]
 *     [--duplicates]
 *     [--no-profile] [--json]
 *
 * `--root` runs main.ts of another checkout (e.g. `git archive` of an
 * older commit) to compare builds with the same script. The profiler costs
 * some throughput itself; the rates of bench/ingest.ts are the ones to
 * compare with bare Hono.
 */
import { parseArgs } from "node:util";
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  ITEM,
  TENANT,
} from "./_bench_package.ts";
import { breakdown, CATEGORIES, type Category } from "./_breakdown.ts";
import { type DataOn, makeDataDir } from "./_data_dir.ts";
import { type LoadSpec, runLoad } from "./_load.ts";
import { cpuProfFlags, readMainProfile, uptimeUs } from "./_main_profile.ts";
import { BENCH_TOKEN, startPlatformProcess } from "./_processes.ts";
import { cpuPerEvent, type ThreadCpu, threadTimes } from "./_thread_cpu.ts";

export interface BreakdownOptions {
  seconds: number;
  connections: number;
  /** Items per request. Default 1. */
  items?: number;
  /** JOBICO_COMPONENTS. Default ctl,repo,listener. */
  components?: string;
  /** Where the KV file is. Default the disk. */
  data?: DataOn;
  /** More JOBICO_* settings. */
  env?: Record<string, string>;
  /** Another checkout's main.ts (see the header). */
  root?: string;
  /** Take the CPU profile. Default true; without it only the rate, threads and commits are measured. */
  profile?: boolean;
  /** Copies the profile into this directory (to read with bench/_profile.ts). */
  keepProfile?: string;
  /**
   * Whose token the requests carry: the admin token, or the tenant's own
   * (as a tenant's senders do); or no token but a signature (the event
   * takes `auth: hmac`, every request is signed with the tenant's webhook
   * secret and carries an item of its own: the load runs on
   * bench/load_gen.ts, wrk cannot sign). Default admin.
   */
  auth?: "admin" | "tenant" | "signed";
  /**
   * Every request carries an Idempotency-Key of its own (as careful
   * senders send one with each new event); or, with "same", every request
   * the same key (a retry storm: the first is accepted, in the warm-up,
   * and every request of the load is a duplicate). Default false.
   */
  idempotency?: boolean | "same";
}

export interface IngestBreakdown {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU µs per request by thread. */
  threads: ThreadCpu | null;
  /** Of the main isolate's profile during the load, the share idle (NaN unprofiled). */
  idle: number;
  /**
   * The main isolate's CPU time over the load's wall time (from /proc;
   * null where it cannot say): near 1 it bounds the rate; well below, the
   * requests wait for something else (their commits) and only more
   * connections in flight would keep it busy.
   */
  mainBusy: number | null;
  /** Main-isolate CPU µs per request, by purpose. */
  mainUs: Partial<Record<Category, number>>;
  /** The listener's group commit during the load (null on builds without its metrics). */
  commit: {
    /** Mean ms a request waited for its commit. */
    waitMs: number;
    /** Mean ms a commit took. */
    commitMs: number;
    requestsPerCommit: number;
    /**
     * Keys a read of the records requests are checked against carried
     * (Idempotency-Keys, signatures' replay records); absent when none was
     * read or the build does not count them.
     */
    keysPerRead?: number;
  } | null;
}

async function commitCounters(
  url: string,
): Promise<Record<string, number> | null> {
  const res = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${BENCH_TOKEN}` },
  });
  const text = await res.text();
  const out: Record<string, number> = {};
  for (
    const m of text.matchAll(/^jobico_listener_(\w+)_total (\S+)$/gm)
  ) out[m[1]] = Number(m[2]);
  return "commits" in out ? out : null;
}

/** A new token of the bench's tenant (made with the admin token). */
async function tenantToken(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/tenants/${TENANT}/token`, {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_TOKEN}` },
  });
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

/** The bench tenant's webhook secret (read with the admin token). */
async function webhookSecret(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/tenants/${TENANT}/webhook-secret`, {
    headers: { authorization: `Bearer ${BENCH_TOKEN}` },
  });
  if (!res.ok) throw new Error(`secret: ${res.status} ${await res.text()}`);
  return (await res.json()).secret;
}

/** A body of `n` items whose names load_gen makes unique (`{unique}`). */
function uniqueEventBody(n: number): string {
  return JSON.stringify({
    data: Array.from({ length: n }, (_, i) => ({
      ...ITEM,
      name: `{unique}-${i}`,
    })),
  });
}

export async function ingestBreakdown(
  o: BreakdownOptions,
): Promise<IngestBreakdown> {
  const items = o.items ?? 1;
  const data = await makeDataDir(o.data ?? "disk");
  const profDir = await Deno.makeTempDir({ prefix: "jobico-prof-" });
  try {
    const p = await startPlatformProcess({
      components: o.components ?? "ctl,repo,listener",
      env: { JOBICO_MAX_QUEUE_DEPTH: "1000000000", ...o.env },
      denoFlags: o.profile === false ? [] : cpuProfFlags(profDir),
      data: data.path,
      root: o.root,
    });
    let load, t0, t1, cpu0, cpu1, c0, c1;
    try {
      const signed = o.auth === "signed";
      await deployBenchPackage(p.url, BENCH_TOKEN, signed ? "hmac" : undefined);
      const token = o.auth === "tenant"
        ? await tenantToken(p.url)
        : BENCH_TOKEN;
      const spec: LoadSpec & { headers: Record<string, string> } = {
        url: `${p.url}/events/${TENANT}/${EVENT}`,
        body: signed ? uniqueEventBody(items) : eventBody(items),
        headers: signed ? {} : { authorization: `Bearer ${token}` },
        ...(signed && { signWith: await webhookSecret(p.url) }),
        connections: o.connections,
        seconds: 2,
        ...(o.idempotency === true && { uniqueHeader: "idempotency-key" }),
      };
      if (o.idempotency === "same") spec.headers["idempotency-key"] = "same";
      await runLoad(spec); // warm-up: V8 optimizes the hot path
      c0 = await commitCounters(p.url);
      cpu0 = await threadTimes(p.pid);
      t0 = await uptimeUs();
      load = await runLoad({ ...spec, seconds: o.seconds });
      t1 = await uptimeUs();
      cpu1 = await threadTimes(p.pid);
      c1 = await commitCounters(p.url);
    } finally {
      await p.stop();
    }
    if (load.non2xx > 0 || load.errors > 0) {
      throw new Error(
        `${load.non2xx} answers were not 2xx and ${load.errors} failed`,
      );
    }
    const requests = load.requests;
    const threads = cpu0 && cpu1
      ? cpuPerEvent(p.pid, cpu0, cpu1, requests)
      : null;
    const profile = await readMainProfile(profDir, o.keepProfile);
    if (!profile && o.profile !== false) {
      throw new Error("The platform wrote no CPU profile");
    }
    const b = profile ? breakdown(profile, t0, t1) : undefined;
    // The profile's samples are wall time on the main thread: when not
    // idle, JS (or an op it called) ran. What the thread's CPU time from
    // /proc has beyond them ran outside JS (see CATEGORIES).
    const mainUs: Partial<Record<Category, number>> = {};
    let sampled = 0;
    for (const c of CATEGORIES) {
      if (!b || c === "idle" || b.ms[c] === 0) continue;
      const us = b.ms[c] * 1000 / requests;
      mainUs[c] = Math.round(us * 10) / 10;
      sampled += us;
    }
    if (b && threads) {
      mainUs["runtime outside JS (HTTP I/O, event loop)"] =
        Math.round(Math.max(0, threads.main - sampled) * 10) / 10;
    }
    const d = (k: string) => (c1?.[k] ?? 0) - (c0?.[k] ?? 0);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      rps: Math.round(load.rps),
      p50Ms: load.p50Ms,
      p99Ms: load.p99Ms,
      threads,
      idle: b ? r2(b.ms.idle / b.windowMs) : NaN,
      mainBusy: threads && t0 !== undefined && t1 !== undefined
        ? r2(threads.main * requests / (t1 - t0))
        : null,
      mainUs,
      commit: c0 && c1 && d("commits") > 0
        ? {
          waitMs: r2(
            d("commit_wait_seconds") * 1000 /
              d("committed_requests"),
          ),
          commitMs: r2(d("commit_seconds") * 1000 / d("commits")),
          requestsPerCommit: r2(d("committed_requests") / d("commits")),
          ...(d("record_reads") > 0 && {
            keysPerRead: r2(d("record_read_keys") / d("record_reads")),
          }),
        }
        : null,
    };
  } finally {
    await data.remove();
    await Deno.remove(profDir, { recursive: true }).catch(() => {});
  }
}

/** The breakdown as a Markdown table (one column per run). */
export function breakdownMarkdown(
  runs: { name: string; r: IngestBreakdown }[],
): string {
  const head = `| per request | ${runs.map((x) => x.name).join(" | ")} |`;
  const sep = `| --- | ${runs.map(() => "---:").join(" | ")} |`;
  const row = (label: string, f: (r: IngestBreakdown) => string) =>
    `| ${label} | ${runs.map((x) => f(x.r)).join(" | ")} |`;
  const us = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1));
  const lines = [
    head,
    sep,
    row("requests/s", (r) => r.rps.toLocaleString("en")),
    row("latency p50 / p99, ms", (r) => `${r.p50Ms} / ${r.p99Ms}`),
    row("commit wait, ms", (r) => r.commit ? String(r.commit.waitMs) : "-"),
    row(
      "requests per commit",
      (r) => r.commit ? String(r.commit.requestsPerCommit) : "-",
    ),
    row("one commit, ms", (r) => r.commit ? String(r.commit.commitMs) : "-"),
    ...(runs.some((x) => x.r.commit?.keysPerRead !== undefined)
      ? [row(
        "keys per record read (Idempotency-Key, signature)",
        (r) => String(r.commit?.keysPerRead ?? "-"),
      )]
      : []),
    row(
      "main isolate busy (CPU time / wall time)",
      (r) => r.mainBusy === null ? "-" : `${Math.round(r.mainBusy * 100)}%`,
    ),
    row(
      "main isolate idle (profiled)",
      (r) => Number.isFinite(r.idle) ? `${Math.round(r.idle * 100)}%` : "-",
    ),
    row("**CPU µs, main isolate**", (r) => `**${us(r.threads?.main)}**`),
    row("of which, by purpose (profiled):", () => ""),
  ];
  for (const c of CATEGORIES) {
    if (c === "idle") continue;
    if (runs.every((x) => x.r.mainUs[c] === undefined)) continue;
    lines.push(row(`- ${c}`, (r) => us(r.mainUs[c])));
  }
  lines.push(
    row("**CPU µs, KV SQLite thread**", (r) => `**${us(r.threads?.kv)}**`),
    row("**CPU µs, other threads**", (r) => `**${us(r.threads?.other)}**`),
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      items: { type: "string", default: "1" },
      connections: { type: "string", default: "32" },
      data: { type: "string", default: "disk" },
      components: { type: "string", default: "ctl,repo,listener" },
      root: { type: "string" },
      env: { type: "string", multiple: true, default: [] },
      json: { type: "boolean", default: false },
      "keep-profile": { type: "string" },
      auth: { type: "string", default: "admin" },
      idempotency: { type: "boolean", default: false },
      duplicates: { type: "boolean", default: false },
      "no-profile": { type: "boolean", default: false },
    },
  });
  const r = await ingestBreakdown({
    auth: values.auth as "admin" | "tenant" | "signed",
    idempotency: values.duplicates ? "same" : values.idempotency,
    seconds: Number(values.seconds),
    items: Number(values.items),
    connections: Number(values.connections),
    data: values.data as DataOn,
    components: values.components,
    root: values.root,
    keepProfile: values["keep-profile"],
    profile: !values["no-profile"],
    env: Object.fromEntries(
      values.env.map((
        kv,
      ) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    ),
  });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else console.log(breakdownMarkdown([{ name: "this run", r }]));
}
