/**
 * How far below bare Hono a durable answer puts ingest on this runtime,
 * whatever the listener does: the same single-item requests (wrk, same
 * connections, same seconds) against bench/floor_server.ts in each of its
 * modes (bare; answered after a 1 ms tick; after a Deno KV commit per
 * request; after a group commit, the listener's own, behind `Deno.serve`
 * and behind goico's `serveGuarded`, the platform's server) and against the
 * platform with only the listener (`ctl,repo,listener`), the cases
 * alternated in each round; the table has each case's median over the
 * rounds, its rate against bare in the same round, and its CPU per request
 * by thread (from /proc: the main isolate, the KV's SQLite thread, the
 * rest). With `--profile` each server runs with a CPU profile of its main
 * isolate (which costs it some throughput), and the main isolate's CPU per
 * request is split in two: JavaScript (with the ops it calls, such as Deno
 * KV's commit op) and the runtime outside JS (the HTTP server in Rust,
 * polling, finishing ops), which is what a server pays whatever its code.
 *
 *   deno run -A bench/ingest_floor.ts [--seconds=5] [--connections=32]
 *     [--rounds=3] [--data=disk|tmpfs] [--profile] [--json]
 *
 * BENCHMARKS.md ("Ingest: where a request's time goes") quotes it.
 */
import { parseArgs } from "node:util";
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { type DataOn, makeDataDir } from "./_data_dir.ts";
import { runLoad } from "./_load.ts";
import {
  BENCH_TOKEN,
  type BenchProcess,
  startPlatformProcess,
  startScript,
} from "./_processes.ts";
import { cpuPerEvent, type ThreadCpu, threadTimes } from "./_thread_cpu.ts";
import { median } from "./_median.ts";
import {
  cpuProfFlags,
  jsUsPerRequest,
  readMainProfile,
  uptimeUs,
} from "./_main_profile.ts";

export const FLOOR_CASES = [
  "bare",
  "later",
  "kv",
  "group",
  "guarded",
  "listener",
] as const;
export type FloorCase = typeof FLOOR_CASES[number];

export interface FloorRow {
  case: FloorCase;
  /** Requests/s answered 2xx, median over the rounds. */
  rps: number;
  /** Its rate over bare's in the same round, median over the rounds. */
  overBare: number;
  p99Ms: number;
  /** CPU µs per request by thread, from the round with the median rate. */
  cpu: ThreadCpu | null;
  /**
   * With `profile`, of the main isolate's µs per request (same round):
   * JavaScript and the ops it called, and the rest (outside JS).
   */
  mainSplit?: { js: number; outsideJs: number };
}

export interface FloorOptions {
  seconds: number;
  connections: number;
  rounds: number;
  data: DataOn;
  /** Profile each server's main isolate (see the header). Default false. */
  profile?: boolean;
}

async function start(
  c: FloorCase,
  dir: string,
  denoFlags: string[],
): Promise<BenchProcess> {
  if (c !== "listener") {
    return await startScript("floor_server.ts", ["-A", ...denoFlags], [c, dir]);
  }
  const p = await startPlatformProcess({
    components: "ctl,repo,listener",
    env: { JOBICO_MAX_QUEUE_DEPTH: "1000000000" },
    data: dir,
    denoFlags,
  });
  await deployBenchPackage(p.url, BENCH_TOKEN);
  return p;
}

interface Measured {
  rps: number;
  p99Ms: number;
  cpu: ThreadCpu | null;
  mainSplit?: FloorRow["mainSplit"];
}

async function measure(c: FloorCase, o: FloorOptions): Promise<Measured> {
  const data = await makeDataDir(o.data);
  const profDir = o.profile
    ? await Deno.makeTempDir({ prefix: "jobico-prof-" })
    : undefined;
  const flags = profDir ? cpuProfFlags(profDir) : [];
  try {
    const p = await start(c, data.path, flags);
    let m: Measured, t0, t1, requests;
    try {
      const spec = {
        url: `${p.url}/events/${TENANT}/${EVENT}`,
        body: eventBody(1),
        headers: { authorization: `Bearer ${BENCH_TOKEN}` },
        connections: o.connections,
        seconds: o.seconds,
      };
      await runLoad({ ...spec, seconds: 1 }); // warm up
      const before = await threadTimes(p.pid);
      t0 = await uptimeUs();
      const r = await runLoad(spec);
      t1 = await uptimeUs();
      const after = await threadTimes(p.pid);
      if (r.non2xx > 0 || r.errors > 0) {
        throw new Error(`${c}: ${r.non2xx} not 2xx, ${r.errors} failed`);
      }
      requests = r.requests;
      const cpu = before && after && requests > 0
        ? cpuPerEvent(p.pid, before, after, requests)
        : null;
      m = { rps: r.rps, p99Ms: r.p99Ms, cpu };
    } finally {
      await p.stop(); // a profile is written as the server exits
    }
    const profile = profDir ? await readMainProfile(profDir) : undefined;
    if (profile && m.cpu && requests > 0) {
      const js = jsUsPerRequest(profile, t0, t1, requests);
      m.mainSplit = {
        js,
        outsideJs: Math.round(Math.max(0, m.cpu.main - js) * 10) / 10,
      };
    }
    return m;
  } finally {
    await data.remove();
    if (profDir) await Deno.remove(profDir, { recursive: true });
  }
}

export async function ingestFloor(o: FloorOptions): Promise<FloorRow[]> {
  const runs = new Map<FloorCase, Measured[]>();
  const ratios = new Map<FloorCase, number[]>();
  for (let round = 0; round < o.rounds; round++) {
    let bare = 0;
    for (const c of FLOOR_CASES) {
      const m = await measure(c, o);
      if (c === "bare") bare = m.rps;
      runs.set(c, [...(runs.get(c) ?? []), m]);
      ratios.set(c, [...(ratios.get(c) ?? []), m.rps / bare]);
    }
  }
  return FLOOR_CASES.map((c) => {
    const ms = [...runs.get(c)!].sort((a, b) => a.rps - b.rps);
    const mid = ms[ms.length >> 1];
    return {
      case: c,
      rps: Math.round(median(ms.map((m) => m.rps))),
      overBare: Math.round(median(ratios.get(c)!) * 1000) / 1000,
      p99Ms: mid.p99Ms,
      cpu: mid.cpu,
      ...(mid.mainSplit && { mainSplit: mid.mainSplit }),
    };
  });
}

const WHAT: Record<FloorCase, string> = {
  bare: "bare Hono (parse, answer)",
  later: "+ answer after a 1 ms tick",
  kv: "+ a KV commit per request",
  group: "+ a group commit (GroupCommit)",
  guarded: "the same behind serveGuarded",
  listener: "the platform, only the listener",
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      connections: { type: "string", default: "32" },
      rounds: { type: "string", default: "3" },
      data: { type: "string", default: "disk" },
      json: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
    },
  });
  const rows = await ingestFloor({
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    rounds: Number(values.rounds),
    data: values.data as DataOn,
    profile: values.profile,
  });
  if (values.json) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(
      `data on ${values.data}, ${values.connections} connections, ${values.seconds} s, medians of ${values.rounds} rounds`,
    );
    const split = values.profile;
    console.log(
      "| case | req/s | / bare | p99 ms | main µs |" +
        (split ? " of which JS | outside JS |" : "") +
        " SQLite µs | other µs |",
    );
    console.log(
      `|---|---:|---:|---:|---:|${split ? "---:|---:|" : ""}---:|---:|`,
    );
    for (const r of rows) {
      console.log(
        `| ${WHAT[r.case]} | ${r.rps} | ${r.overBare} | ${r.p99Ms} | ${
          r.cpu?.main ?? "-"
        } |${
          split
            ? ` ${r.mainSplit?.js ?? "-"} | ${r.mainSplit?.outsideJs ?? "-"} |`
            : ""
        } ${r.cpu?.kv ?? "-"} | ${r.cpu?.other ?? "-"} |`,
      );
    }
  }
}
