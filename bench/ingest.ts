/**
 * Ingest: events per second the listener accepts (200 after the atomic
 * commit), for single-item requests and for 100-item batches, next to the
 * bare Hono baseline (bench/bare_hono.ts), which only parses the same JSON.
 * Each target runs in its own process; one load generator (wrk, or
 * bench/load_gen.ts) drives them with the same connections, one after the
 * other, in the same run: bare Hono and the platform on disk and on a
 * tmpfs take turns in each of the `repeats` rounds (so that the machine's
 * other load, which drifts over a run, touches them alike), single items
 * in every round first, then batches. Each measurement is the best of its
 * `repeats` runs;
 * the CPU time of the server's main thread per request (from /proc, which
 * other load on the machine disturbs less than the rate) is the least of
 * them.
 *
 * The platform runs as `deno task dev` would (main.ts, KV in a SQLite file
 * in a temporary directory, the default log settings), with
 * JOBICO_COMPONENTS=ctl,repo,listener (no executor: pure ingest), again
 * with the data directory on a tmpfs (`tmpfs`, root only: no disk, no
 * fsync cost) and, for `withExecutor`, with every component (the executor
 * drains the queue meanwhile). JOBICO_MAX_QUEUE_DEPTH is raised so that the
 * backlog never answers 429.
 */
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { type DataOn, makeDataDir } from "./_data_dir.ts";
import { type LoadResult, loadTool, runLoad } from "./_load.ts";
import {
  BENCH_TOKEN,
  type BenchProcess,
  startBareHono,
  startPlatformProcess,
} from "./_processes.ts";
import { mainThreadSecs } from "./_thread_cpu.ts";

export interface IngestOptions {
  seconds: number;
  connections: number;
  repeats: number;
  /** Items per batch request. Default 100. */
  batch?: number;
  /** Also measure with every component running. Default true. */
  withExecutor?: boolean;
  /** Also measure with the data on a tmpfs (needs root). Default true. */
  tmpfs?: boolean;
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
  /** CPU µs of the server's main thread per request, the least over the runs (Linux). */
  mainCpuUs?: number;
}

export interface IngestResult {
  generator: string;
  connections: number;
  seconds: number;
  batch: number;
  bare: { single: IngestCase; batch: IngestCase };
  platform: { single: IngestCase; batch: IngestCase };
  /** The platform with its data on a tmpfs. */
  tmpfs?: { single: IngestCase; batch: IngestCase };
  withExecutor?: { single: IngestCase; batch: IngestCase };
  ratios: {
    /** platform / bare, single-item requests/s */
    single: number;
    /** platform on tmpfs / bare, single-item requests/s */
    singleTmpfs?: number;
    /** platform on disk / on tmpfs, single-item requests/s */
    diskOverTmpfs?: number;
    /** platform with every component / bare, single-item requests/s */
    singleWithExecutor?: number;
    /** platform / bare, batch requests/s */
    batch: number;
    /** platform items/s, batches / single */
    batchOverSingle: number;
    /** bare / platform, main-thread CPU µs per single-item request */
    cpuBareOverPlatform?: number;
  };
}

const PLATFORM_ENV = { JOBICO_MAX_QUEUE_DEPTH: "1000000000" };

function toCase(
  r: LoadResult,
  items: number,
  mainCpuUs: number | undefined,
): IngestCase {
  return {
    rps: Math.round(r.rps),
    itemsPerSec: Math.round(r.rps * items),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    non2xx: r.non2xx,
    errors: r.errors,
    ...(mainCpuUs !== undefined &&
      { mainCpuUs: Math.round(mainCpuUs * 10) / 10 }),
  };
}

/** One load of `items`-item requests against `target`, and its main thread's CPU µs per request. */
async function loadOnce(
  target: BenchProcess,
  items: number,
  o: IngestOptions,
): Promise<{ r: LoadResult; cpuUs?: number }> {
  const c0 = await mainThreadSecs(target.pid);
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
  const c1 = await mainThreadSecs(target.pid);
  const cpuUs = c0 !== null && c1 !== null && r.requests > 0
    ? (c1 - c0) * 1e6 / r.requests
    : undefined;
  return { r, cpuUs };
}

/** A server under test, and what to remove once it stopped. */
interface Target {
  proc: BenchProcess;
  remove?: () => Promise<void>;
}

/** Starts the platform with `components`, its data on `dataOn`, the bench package deployed. */
async function startPlatform(
  components: string,
  o: IngestOptions,
  dataOn: DataOn,
): Promise<Target> {
  const data = await makeDataDir(dataOn);
  const proc = await startPlatformProcess({
    components,
    env: PLATFORM_ENV,
    denoFlags: o.denoFlags,
    data: data.path,
  }).catch(async (err) => {
    await data.remove();
    throw err;
  });
  try {
    await deployBenchPackage(proc.url, BENCH_TOKEN);
  } catch (err) {
    await proc.stop();
    await data.remove();
    throw err;
  }
  return { proc, remove: data.remove };
}

/**
 * The best of `repeats` loads against each target, single items first, then
 * batches. The targets take turns in each round, so that a change in the
 * machine's other load over the run touches them alike (the ratios compare
 * them). After a 1 s warm-up of each: V8 optimizes the hot path, schemas
 * get compiled.
 */
async function measureTogether(
  targets: Target[],
  o: IngestOptions,
): Promise<{ single: IngestCase; batch: IngestCase }[]> {
  for (const t of targets) {
    await runLoad({
      url: `${t.proc.url}/events/${TENANT}/${EVENT}`,
      body: eventBody(1),
      headers: { authorization: `Bearer ${BENCH_TOKEN}` },
      connections: o.connections,
      seconds: 1,
    });
  }
  const measure = async (items: number) => {
    const top: (LoadResult | undefined)[] = targets.map(() => undefined);
    const cpu: (number | undefined)[] = targets.map(() => undefined);
    for (let i = 0; i < o.repeats; i++) {
      for (const [k, t] of targets.entries()) {
        const { r, cpuUs } = await loadOnce(t.proc, items, o);
        if (cpuUs !== undefined) cpu[k] = Math.min(cpu[k] ?? cpuUs, cpuUs);
        if (!top[k] || r.rps > top[k]!.rps) top[k] = r;
      }
    }
    return targets.map((_, k) => toCase(top[k]!, items, cpu[k]));
  };
  const single = await measure(1);
  const batch = await measure(o.batch ?? 100);
  return targets.map((_, k) => ({ single: single[k], batch: batch[k] }));
}

async function stopAll(targets: Target[]): Promise<void> {
  for (const t of targets) {
    await t.proc.stop().catch(() => {});
    await t.remove?.();
  }
}

/**
 * Bare Hono, the platform with its data on disk and on a tmpfs run side by
 * side (see `measureTogether`); the platform with every component runs
 * after them on its own, since its executor drains what the loads queued
 * (it would take the CPU from the others' turns).
 */
export async function ingestBench(o: IngestOptions): Promise<IngestResult> {
  const batch = o.batch ?? 100;
  const listener = "ctl,repo,listener";
  const targets: Target[] = [];
  let bare, platform, tmpfs;
  try {
    targets.push({ proc: await startBareHono() });
    targets.push(await startPlatform(listener, o, "disk"));
    if (o.tmpfs !== false) {
      targets.push(await startPlatform(listener, o, "tmpfs"));
    }
    [bare, platform, tmpfs] = await measureTogether(targets, o);
  } finally {
    await stopAll(targets);
  }
  let withExecutor;
  if (o.withExecutor !== false) {
    const all = [
      await startPlatform("ctl,repo,listener,executor,recorder", o, "disk"),
    ];
    try {
      [withExecutor] = await measureTogether(all, o);
    } finally {
      await stopAll(all);
    }
  }
  const r2 = (x: number) => Math.round(x * 1000) / 1000;
  const cpuBare = bare.single.mainCpuUs, cpu = platform.single.mainCpuUs;
  return {
    generator: await loadTool(),
    connections: o.connections,
    seconds: o.seconds,
    batch,
    bare,
    platform,
    ...(tmpfs && { tmpfs }),
    ...(withExecutor && { withExecutor }),
    ratios: {
      single: r2(platform.single.rps / bare.single.rps),
      ...(tmpfs && {
        singleTmpfs: r2(tmpfs.single.rps / bare.single.rps),
        diskOverTmpfs: r2(platform.single.rps / tmpfs.single.rps),
      }),
      ...(withExecutor && {
        singleWithExecutor: r2(withExecutor.single.rps / bare.single.rps),
      }),
      batch: r2(platform.batch.rps / bare.batch.rps),
      batchOverSingle: r2(
        platform.batch.itemsPerSec / platform.single.itemsPerSec,
      ),
      ...(cpuBare && cpu && { cpuBareOverPlatform: r2(cpuBare / cpu) }),
    },
  };
}

if (import.meta.main) {
  const r = await ingestBench({
    seconds: Number(Deno.args[0] ?? 5),
    connections: Number(Deno.args[1] ?? 32),
    repeats: Number(Deno.args[2] ?? 1),
    withExecutor: !Deno.args.includes("no-executor"),
    tmpfs: !Deno.args.includes("no-tmpfs"),
  });
  console.log(JSON.stringify(r, null, 2));
}
