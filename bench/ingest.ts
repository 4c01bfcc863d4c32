/**
 * Ingest: events per second the listener accepts (200 after the atomic
 * commit), for single-item requests and for 100-item batches, next to the
 * bare Hono baseline (bench/bare_hono.ts), which only parses the same JSON.
 * Each target runs in its own process; one load generator (wrk, or
 * bench/load_gen.ts) drives both with the same connections, one after the
 * other, in the same run. Each measurement is the best of `repeats` runs.
 *
 * The platform runs as `deno task dev` would (main.ts, KV in a SQLite file
 * in a temporary directory, request logs at the default level), with
 * JOBICO_COMPONENTS=ctl,repo,listener (no executor: pure ingest) or, for
 * `withExecutor`, every component (the executor drains the queue meanwhile).
 * JOBICO_MAX_QUEUE_DEPTH is raised so that the backlog never answers 429.
 */
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { type LoadResult, loadTool, runLoad } from "./_load.ts";
import {
  BENCH_TOKEN,
  type BenchProcess,
  startBareHono,
  startPlatformProcess,
} from "./_processes.ts";

export interface IngestOptions {
  seconds: number;
  connections: number;
  repeats: number;
  /** Items per batch request. Default 100. */
  batch?: number;
  /** Also measure with every component running. Default true. */
  withExecutor?: boolean;
  /** Flags for the platform's `deno run` (e.g. `--cpu-prof`). */
  denoFlags?: string[];
}

export interface IngestCase {
  /** requests/s answered 200 */
  rps: number;
  /** items/s accepted */
  itemsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

export interface IngestResult {
  generator: string;
  connections: number;
  seconds: number;
  batch: number;
  bare: { single: IngestCase; batch: IngestCase };
  platform: { single: IngestCase; batch: IngestCase };
  withExecutor?: { single: IngestCase; batch: IngestCase };
  ratios: {
    /** platform / bare, single-item requests/s */
    single: number;
    /** platform / bare, batch requests/s */
    batch: number;
    /** platform items/s, batches / single */
    batchOverSingle: number;
  };
}

const PLATFORM_ENV = { JOBICO_MAX_QUEUE_DEPTH: "1000000000" };

function toCase(r: LoadResult, items: number): IngestCase {
  return {
    rps: Math.round(r.rps),
    itemsPerSec: Math.round(r.rps * items),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/** The best of `repeats` loads of `items`-item requests against `target`. */
async function best(
  target: BenchProcess,
  items: number,
  o: IngestOptions,
): Promise<IngestCase> {
  let top: LoadResult | undefined;
  for (let i = 0; i < o.repeats; i++) {
    const r = await runLoad({
      url: `${target.url}/events/${TENANT}/${EVENT}`,
      body: eventBody(items),
      headers: { authorization: `Bearer ${BENCH_TOKEN}` },
      connections: o.connections,
      seconds: o.seconds,
    });
    if (r.non2xx > 0 || r.errors > 0) {
      throw new Error(
        `ingest: ${r.non2xx} answers were not 2xx and ${r.errors} failed (${target.url})`,
      );
    }
    if (!top || r.rps > top.rps) top = r;
  }
  return toCase(top!, items);
}

async function measurePlatform(
  components: string,
  o: IngestOptions,
): Promise<{ single: IngestCase; batch: IngestCase }> {
  const p = await startPlatformProcess({
    components,
    env: PLATFORM_ENV,
    denoFlags: o.denoFlags,
  });
  try {
    await deployBenchPackage(p.url, BENCH_TOKEN);
    // A short warm-up: V8 optimizes the hot path, schemas get compiled.
    await runLoad({
      url: `${p.url}/events/${TENANT}/${EVENT}`,
      body: eventBody(1),
      headers: { authorization: `Bearer ${BENCH_TOKEN}` },
      connections: o.connections,
      seconds: 1,
    });
    return {
      single: await best(p, 1, o),
      batch: await best(p, o.batch ?? 100, o),
    };
  } finally {
    await p.stop();
  }
}

export async function ingestBench(o: IngestOptions): Promise<IngestResult> {
  const batch = o.batch ?? 100;
  const bareProc = await startBareHono();
  let bare;
  try {
    await runLoad({
      url: `${bareProc.url}/events/${TENANT}/${EVENT}`,
      body: eventBody(1),
      connections: o.connections,
      seconds: 1,
    });
    bare = {
      single: await best(bareProc, 1, o),
      batch: await best(bareProc, batch, o),
    };
  } finally {
    await bareProc.stop();
  }
  const platform = await measurePlatform("ctl,repo,listener", o);
  const withExecutor = o.withExecutor === false
    ? undefined
    : await measurePlatform("ctl,repo,listener,executor,recorder", o);
  const r2 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    generator: await loadTool(),
    connections: o.connections,
    seconds: o.seconds,
    batch,
    bare,
    platform,
    ...(withExecutor && { withExecutor }),
    ratios: {
      single: r2(platform.single.rps / bare.single.rps),
      batch: r2(platform.batch.rps / bare.batch.rps),
      batchOverSingle: r2(
        platform.batch.itemsPerSec / platform.single.itemsPerSec,
      ),
    },
  };
}

if (import.meta.main) {
  const r = await ingestBench({
    seconds: Number(Deno.args[0] ?? 5),
    connections: Number(Deno.args[1] ?? 32),
    repeats: Number(Deno.args[2] ?? 1),
    withExecutor: Deno.args[3] !== "no-executor",
  });
  console.log(JSON.stringify(r, null, 2));
}
