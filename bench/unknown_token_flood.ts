/**
 * What a flood of unknown tenant tokens costs the platform: a client sends
 * single-item events, each with a `Bearer jbt_...` token of its own that no
 * tenant has (each a miss of the token cache, so a store read, then a 401),
 * against the same requests with the admin token (200s). Only ctl, repo and
 * listener run; wrk with 32 connections. Per round and case: answers a
 * second and the CPU per request of the main isolate and the KV's SQLite
 * thread (from /proc).
 *
 *   deno run -A bench/unknown_token_flood.ts [--seconds=4] [--rounds=2]
 *     [--root=DIR]
 *
 * `--root` runs main.ts of another checkout (to compare builds).
 */
import { parseArgs } from "node:util";
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { runLoad } from "./_load.ts";
import { BENCH_TOKEN, startPlatformProcess } from "./_processes.ts";
import { cpuPerEvent, threadTimes } from "./_thread_cpu.ts";

/** One case of one round. */
export interface FloodRow {
  tokens: "admin" | "unknown";
  /** Answers a second (200s with the admin token, 401s with unknown ones). */
  answersPerSec: number;
  /** Of them, not 2xx. */
  non2xx: number;
  mainUs: number;
  kvUs: number;
}

export async function unknownTokenFlood(o: {
  seconds: number;
  rounds: number;
  root?: string;
}): Promise<FloodRow[]> {
  const p = await startPlatformProcess({
    components: "ctl,repo,listener",
    env: { JOBICO_MAX_QUEUE_DEPTH: "1000000000" },
    root: o.root,
  });
  try {
    await deployBenchPackage(p.url, BENCH_TOKEN);
    const run = async (unknown: boolean, seconds: number) => {
      const before = await threadTimes(p.pid);
      const r = await runLoad({
        url: `${p.url}/events/${TENANT}/${EVENT}`,
        body: eventBody(1),
        headers: { authorization: `Bearer ${BENCH_TOKEN}` },
        connections: 32,
        seconds,
        // A made-up tenant token of its own on every request.
        ...(unknown &&
          { uniqueHeader: "authorization", uniquePrefix: "Bearer jbt_" }),
      });
      const after = await threadTimes(p.pid);
      const cpu = before && after
        ? cpuPerEvent(p.pid, before, after, r.requests)
        : null;
      return {
        tokens: unknown ? "unknown" : "admin",
        answersPerSec: Math.round(r.requests / r.seconds),
        non2xx: r.non2xx,
        mainUs: cpu?.main ?? NaN,
        kvUs: cpu?.kv ?? NaN,
      } satisfies FloodRow;
    };
    await run(false, 2); // warm-up
    const rows: FloodRow[] = [];
    for (let i = 0; i < o.rounds; i++) {
      rows.push(await run(false, o.seconds), await run(true, o.seconds));
    }
    return rows;
  } finally {
    await p.stop();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "4" },
      rounds: { type: "string", default: "2" },
      root: { type: "string" },
    },
  });
  const rows = await unknownTokenFlood({
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    root: values.root,
  });
  console.log("| tokens | answers/s | not 2xx | main µs | SQLite µs |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.tokens} | ${
        r.answersPerSec.toLocaleString("en")
      } | ${r.non2xx} | ${r.mainUs} | ${r.kvUs} |`,
    );
  }
}
