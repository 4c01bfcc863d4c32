/**
 * End to end: from POST to recorded execution, with the echo Jobicolet.
 *
 * 1. Sustained rate: a fresh platform (every component, one process, KV in
 *    a SQLite file) is fed 100-item batches by the load generator over a few
 *    connections for `seconds`, faster than it executes, while the queue's
 *    `processed` counter (bumped in the same atomic write that records an
 *    execution) is read every 500 ms. The sustained rate is the executions
 *    recorded per second over that window, the first second left out.
 * 2. Latency at half that rate: another fresh platform gets single-item
 *    POSTs at half the sustained rate from bench/e2e_client.ts (its own
 *    process), which follows the execution stream (SSE) and measures, for
 *    every event, from its 200 to its execution on the stream.
 *
 * The same function measures the naive design (bench/naive_server.ts) by
 * passing its start function.
 */
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  ITEM,
  TENANT,
} from "./_bench_package.ts";
import { runLoad } from "./_load.ts";
import {
  BENCH_TOKEN,
  type BenchProcess,
  startPlatformProcess,
} from "./_processes.ts";

export interface EndToEndOptions {
  seconds: number;
  /** Sustained-rate runs (a fresh server each); the best counts. */
  repeats: number;
  /** Connections of the batch load. Default 2. */
  loadConnections?: number;
  /** Connections of the latency client. Default 16. */
  latencyConnections?: number;
  /** Starts the server under test. Default: the platform, every component. */
  start?: () => Promise<BenchProcess>;
  /** Deploys the bench package on it. Default `deployBenchPackage`. */
  deploy?: (url: string) => Promise<void>;
  /** A fixed latency rate instead of half the sustained one. */
  latencyRate?: number;
  /** Skip the latency phase. */
  skipLatency?: boolean;
}

export interface SustainedResult {
  /** Executions recorded per second while events kept coming. */
  recordedPerSec: number;
  /** Items accepted per second meanwhile. */
  acceptedPerSec: number;
  /** Events waiting when the load stopped (accepted faster than run). */
  backlogAtEnd: number;
}

export interface LatencyResult {
  rate: number;
  accepted: number;
  recorded: number;
  missing: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface EndToEndResult {
  sustained: SustainedResult;
  latency?: LatencyResult;
}

const ALL = "ctl,repo,listener,executor,recorder";

export function startFullPlatform(): Promise<BenchProcess> {
  return startPlatformProcess({
    components: ALL,
    env: { JOBICO_MAX_QUEUE_DEPTH: "1000000000" },
  });
}

interface Stats {
  processed: number;
  depth: number;
  inFlight: number;
}

async function stats(url: string): Promise<Stats> {
  const res = await fetch(
    `${url}/api/v1/tenants/${TENANT}/queues/pings`,
    { headers: { authorization: `Bearer ${BENCH_TOKEN}` } },
  );
  if (!res.ok) {
    throw new Error(`queue stats: ${res.status} ${await res.text()}`);
  }
  return await res.json();
}

async function post(url: string, items: number): Promise<void> {
  const res = await fetch(`${url}/events/${TENANT}/${EVENT}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${BENCH_TOKEN}`,
      "content-type": "application/json",
    },
    body: eventBody(items),
  });
  if (res.status !== 200) {
    throw new Error(`POST: ${res.status} ${await res.text()}`);
  }
  await res.body?.cancel();
}

/** Sends `n` events and waits until all ran: compiles, warms up, proves the setup. */
async function warmUp(url: string, n = 200): Promise<void> {
  const before = (await stats(url)).processed;
  for (let i = 0; i < n; i += 100) await post(url, Math.min(100, n - i));
  const deadline = Date.now() + 30_000;
  while ((await stats(url)).processed < before + n) {
    if (Date.now() > deadline) {
      throw new Error("warm-up events did not run within 30 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sustainedOnce(o: EndToEndOptions): Promise<SustainedResult> {
  const server = await (o.start ?? startFullPlatform)();
  try {
    await (o.deploy ?? ((url) => deployBenchPackage(url, BENCH_TOKEN)))(
      server.url,
    );
    await warmUp(server.url);
    const samples: { t: number; s: Stats }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        samples.push({ t, s: await stats(server.url) });
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const load = await runLoad({
      url: `${server.url}/events/${TENANT}/${EVENT}`,
      body: eventBody(100),
      headers: { authorization: `Bearer ${BENCH_TOKEN}` },
      connections: o.loadConnections ?? 2,
      seconds: o.seconds,
    });
    polling = false;
    await poller;
    const first = samples.find((x) => x.t - samples[0].t >= 1000) ?? samples[0];
    const last = samples.at(-1)!;
    const secs = (last.t - first.t) / 1000;
    return {
      recordedPerSec: Math.round((last.s.processed - first.s.processed) / secs),
      acceptedPerSec: Math.round(load.rps * 100),
      backlogAtEnd: last.s.depth + last.s.inFlight,
    };
  } finally {
    await server.stop();
  }
}

async function latencyAt(
  rate: number,
  o: EndToEndOptions,
): Promise<LatencyResult> {
  const server = await (o.start ?? startFullPlatform)();
  const dir = await Deno.makeTempDir({ prefix: "jobico-e2e-" });
  try {
    await (o.deploy ?? ((url) => deployBenchPackage(url, BENCH_TOKEN)))(
      server.url,
    );
    await warmUp(server.url);
    const specFile = `${dir}/spec.json`;
    await Deno.writeTextFile(
      specFile,
      JSON.stringify({
        url: server.url,
        token: BENCH_TOKEN,
        tenant: TENANT,
        event: EVENT,
        body: JSON.stringify({ data: [ITEM] }),
        rate,
        seconds: o.seconds,
        connections: o.latencyConnections ?? 16,
      }),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        new URL("e2e_client.ts", import.meta.url).pathname,
        specFile,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error("bench/e2e_client.ts failed");
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    return {
      rate: r.rate,
      accepted: r.accepted,
      recorded: r.recorded,
      missing: r.missing,
      p50Ms: r.p50Ms,
      p90Ms: r.p90Ms,
      p99Ms: r.p99Ms,
      maxMs: r.maxMs,
    };
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export async function endToEndBench(
  o: EndToEndOptions,
): Promise<EndToEndResult> {
  let sustained: SustainedResult | undefined;
  for (let i = 0; i < o.repeats; i++) {
    const r = await sustainedOnce(o);
    if (!sustained || r.recordedPerSec > sustained.recordedPerSec) {
      sustained = r;
    }
  }
  if (o.skipLatency) return { sustained: sustained! };
  const rate = o.latencyRate ??
    Math.max(1, Math.round(sustained!.recordedPerSec / 2));
  return { sustained: sustained!, latency: await latencyAt(rate, o) };
}

if (import.meta.main) {
  const r = await endToEndBench({
    seconds: Number(Deno.args[0] ?? 5),
    repeats: Number(Deno.args[1] ?? 1),
  });
  console.log(JSON.stringify(r, null, 2));
}
