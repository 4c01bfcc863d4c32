/**
 * Ingest while execution streams are open: single-item events per second
 * the platform accepts (every component running, so each event is also
 * executed, recorded and streamed) with no stream, with 200 streams that
 * read everything, with 60 streams that never read (the default limits:
 * 50 per tenant, so 10 are refused), and with both; then 60 never-reading
 * streams again under 100-item batches, for the server's memory when many
 * executions a second pile up for them. Each case runs on a
 * fresh platform process (main.ts, KV in a SQLite file, as `deno task dev`)
 * one after the other in the same run, with the same load generator; the
 * ratios to the case without streams are what count. See _abuse_sse.ts for
 * what each case measures.
 *
 * Every case's load lasts the same `seconds` (default 15: never-reading
 * sockets take about 4 MiB each in kernel buffers before anything waits in
 * the server, about 5 s at 2,000 executions/s), so their RSS compare.
 *
 *   deno run -A bench/sse_streams.ts [seconds=15] [connections=32] [repeats=1] [only=no,200,...]
 */
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { loadTool, runLoad } from "./_load.ts";
import { BENCH_TOKEN, startPlatformProcess } from "./_processes.ts";
import { type SseAbuseResult, sseStreamsScenario } from "./_abuse_sse.ts";

export interface SseStreamsCase extends SseAbuseResult {
  name: string;
  /** Items per request (1 unless set). */
  batch?: number;
  /** JOBICO_* settings of the case beyond the bench's. */
  settings: Record<string, string>;
}

export interface SseStreamsResult {
  generator: string;
  seconds: number;
  connections: number;
  cases: SseStreamsCase[];
  /** Ingest rate of each case / that without streams. */
  ratios: Record<string, number>;
  /** Server CPU per event of each case / that without streams. */
  cpuRatios: Record<string, number>;
}

interface Case {
  name: string;
  readers: number;
  idle: number;
  settings: Record<string, string>;
  /** Items per request. Default 1. */
  batch?: number;
}

const CASES: Case[] = [
  { name: "no streams", readers: 0, idle: 0, settings: {} },
  {
    name: "200 reading streams",
    readers: 200,
    idle: 0,
    settings: { JOBICO_MAX_STREAMS_PER_TENANT: "200" },
  },
  {
    name: "60 never-reading streams (default limits)",
    readers: 0,
    idle: 60,
    settings: {},
  },
  {
    name: "200 reading + 60 never-reading",
    readers: 200,
    idle: 60,
    settings: { JOBICO_MAX_STREAMS_PER_TENANT: "260" },
  },
  {
    // Many executions per second for the never-reading streams: memory.
    name: "60 never-reading under 100-item batches",
    readers: 0,
    idle: 60,
    settings: {},
    batch: 100,
  },
];

export async function sseStreamsBench(
  o: {
    seconds: number;
    connections: number;
    /** Runs of each case, interleaved (a, b, c, a, b, c); the best rate counts. Default 1. */
    repeats?: number;
    only?: string[];
  },
): Promise<SseStreamsResult> {
  const chosen = CASES.filter((c) =>
    !o.only || o.only.some((s) => c.name.startsWith(s))
  );
  const best = new Map<string, SseStreamsCase>();
  for (let run = 0; run < (o.repeats ?? 1); run++) {
    for (const c of chosen) {
      const r = await runCase(c, o);
      console.error(`sse_streams: ${c.name}: ${JSON.stringify(r)}`);
      const top = best.get(c.name);
      if (!top || r.ingest.rps > top.ingest.rps) best.set(c.name, r);
    }
  }
  const cases = chosen.map((c) => best.get(c.name)!);
  const none = cases.find((c) => c.readers === 0 && c.idle === 0);
  const ratios: Record<string, number> = {};
  const cpuRatios: Record<string, number> = {};
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  if (none) {
    for (const c of cases.filter((c) => !c.batch)) {
      ratios[c.name] = r3(c.ingest.rps / none.ingest.rps);
      cpuRatios[c.name] = r3(c.serverMsPerEvent / none.serverMsPerEvent);
    }
  }
  return {
    generator: await loadTool(),
    seconds: o.seconds,
    connections: o.connections,
    cases,
    ratios,
    cpuRatios,
  };
}

/** One case on a fresh platform process. */
async function runCase(
  c: Case,
  o: { seconds: number; connections: number },
): Promise<SseStreamsCase> {
  const p = await startPlatformProcess({
    env: { JOBICO_MAX_QUEUE_DEPTH: "1000000000", ...c.settings },
  });
  try {
    await deployBenchPackage(p.url, BENCH_TOKEN);
    // Warm-up: V8 optimizes the hot path, the schema and module get compiled.
    await runLoad({
      url: `${p.url}/events/${TENANT}/${EVENT}`,
      body: eventBody(1),
      headers: { authorization: `Bearer ${BENCH_TOKEN}` },
      connections: o.connections,
      seconds: 1,
    });
    const r = await sseStreamsScenario({
      url: p.url,
      pid: p.pid,
      token: BENCH_TOKEN,
      tenant: TENANT,
      event: EVENT,
      queue: "pings",
    }, {
      readers: c.readers,
      idle: c.idle,
      seconds: o.seconds,
      connections: o.connections,
      batch: c.batch,
    });
    return {
      name: c.name,
      settings: c.settings,
      ...(c.batch && { batch: c.batch }),
      ...r,
    };
  } finally {
    await p.stop();
  }
}

if (import.meta.main) {
  const r = await sseStreamsBench({
    seconds: Number(Deno.args[0] ?? 15),
    connections: Number(Deno.args[1] ?? 32),
    repeats: Number(Deno.args[2] ?? 1),
    only: Deno.args[3]?.split(","),
  });
  console.log(JSON.stringify(r, null, 2));
}
