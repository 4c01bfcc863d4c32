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
 * 3. The executor alone: a queue is filled with `drainItems` events by a
 *    platform that only accepts them, then a platform with only the
 *    executor (and ctl, for the queue's counters) drains it on the same
 *    data. The rate is events recorded per second from the first to the
 *    last; on Linux, the CPU time each thread of that process spent per
 *    event is read from /proc (main isolate, the KV's SQLite thread, the
 *    sandbox Workers, the rest). It shows what the executor costs without
 *    the listener competing for the same cores.
 *
 * The same function measures the naive design (bench/naive_server.ts) by
 * passing its start function (the drain is the platform's only).
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
import { cpuPerEvent, type ThreadCpu, threadTimes } from "./_thread_cpu.ts";

export type { ThreadCpu };

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
  /** Events in the backlog the executor drains alone. Default 30,000; 0 skips it. */
  drainItems?: number;
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
  /** The rate asked for, events/s. */
  asked?: number;
  /** The rate the client achieved (it sends no faster than it is answered). */
  rate: number;
  accepted: number;
  recorded: number;
  missing: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface DrainResult {
  /** Events in the backlog. */
  items: number;
  /** Executions recorded per second while the executor drained it. */
  perSec: number;
  /** Where the CPU went, per event (Linux only). */
  cpuUsPerEvent?: ThreadCpu;
}

export interface EndToEndResult {
  sustained: SustainedResult;
  latency?: LatencyResult;
  drain?: DrainResult;
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
      asked: rate,
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

async function drainOnce(items: number): Promise<DrainResult> {
  const data = await Deno.makeTempDir({ prefix: "jobico-drain-" });
  try {
    const fill = await startPlatformProcess({
      components: "ctl,repo,listener",
      data,
      env: { JOBICO_MAX_QUEUE_DEPTH: "1000000000" },
    });
    try {
      await deployBenchPackage(fill.url, BENCH_TOKEN);
      let sent = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (sent < items) {
          const n = Math.min(100, items - sent);
          sent += n;
          await post(fill.url, n);
        }
      }));
    } finally {
      await fill.stop();
    }
    const ex = await startPlatformProcess({ components: "ctl,executor", data });
    try {
      const linux = Deno.build.os === "linux";
      let t0 = 0, p0 = 0;
      let cpu0: Map<string, { name: string; secs: number }> | null = null;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const s = await stats(ex.url);
        const t = performance.now();
        if (t0 === 0 && s.processed > 0) {
          [t0, p0] = [t, s.processed];
          if (linux) cpu0 = await threadTimes(ex.pid);
        }
        if (s.processed >= items) {
          const done = s.processed - p0;
          const cpu1 = cpu0 && await threadTimes(ex.pid);
          return {
            items,
            perSec: Math.round(done / ((t - t0) / 1000)),
            ...(cpu0 && cpu1 && {
              cpuUsPerEvent: cpuPerEvent(ex.pid, cpu0, cpu1, done),
            }),
          };
        }
        if (Date.now() > deadline) {
          throw new Error("the executor did not drain the backlog in 120 s");
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await ex.stop();
    }
  } finally {
    await Deno.remove(data, { recursive: true }).catch(() => {});
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
  let drain: DrainResult | undefined;
  const drainItems = o.start ? 0 : o.drainItems ?? 30_000;
  for (let i = 0; drainItems > 0 && i < o.repeats; i++) {
    const r = await drainOnce(drainItems);
    if (!drain || r.perSec > drain.perSec) drain = r;
  }
  const rest = drain ? { drain } : {};
  if (o.skipLatency) return { sustained: sustained!, ...rest };
  const rate = o.latencyRate ??
    Math.max(1, Math.round(sustained!.recordedPerSec / 2));
  return {
    sustained: sustained!,
    latency: await latencyAt(rate, o),
    ...rest,
  };
}

if (import.meta.main) {
  const r = await endToEndBench({
    seconds: Number(Deno.args[0] ?? 5),
    repeats: Number(Deno.args[1] ?? 1),
  });
  console.log(JSON.stringify(r, null, 2));
}
