/**
 * Listener throughput with 1 and with 2 isolates of `deno serve --parallel
 * serve.ts` (components ctl,repo,listener; no executor, so only ingest is
 * measured), same load generator and connections, the two alternated in
 * each round; the table has each case's median over the rounds:
 *
 *   deno run -A bench/parallel_listeners.ts [--seconds=5] [--connections=32]
 *     [--rounds=3] [--data=disk|tmpfs]
 *
 * Prints a table and the 2/1 ratios; docs/scaling.md quotes it.
 */
import { parseArgs } from "node:util";
import { deployGreetOver } from "../tests/_deploy_over_http.ts";
import { authFetch } from "../tests/_auth_fetch.ts";
import { spawnParallel, waitIsolates } from "../tests/_spawn_parallel.ts";
import { type DataOn, makeDataDir } from "./_data_dir.ts";
import { type LoadResult, runLoad } from "./_load.ts";
import { median } from "./_median.ts";

const TOKEN = "bench-parallel-admin-token";
const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
    data: { type: "string", default: "disk" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const dataOn = values.data as DataOn;

async function measure(jobs: number, batch: number): Promise<LoadResult> {
  const data = await makeDataDir(dataOn);
  const server = await spawnParallel(
    data.path,
    jobs,
    TOKEN,
    "ctl,repo,listener",
    { JOBICO_MAX_QUEUE_DEPTH: "1000000000", JOBICO_LOG_LEVEL: "error" },
  );
  const url = server.url;
  try {
    if ((await waitIsolates(url, jobs)).size !== jobs) {
      throw new Error(`${jobs} isolates did not come up:\n${server.log()}`);
    }
    await deployGreetOver(authFetch(url, TOKEN));
    const body = JSON.stringify({
      data: Array.from({ length: batch }, (_, i) => ({ name: `n${i}` })),
    });
    const spec = {
      url: `${url}/events/demo/greet`,
      body,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
      },
      connections,
      seconds,
      threads: 1,
    };
    await runLoad({ ...spec, seconds: 1 }); // warm up
    return await runLoad(spec);
  } finally {
    await server.stop();
    await data.remove();
  }
}

const runs = new Map<string, LoadResult[]>();
for (let round = 0; round < rounds; round++) {
  for (const batch of [1, 100]) {
    for (const jobs of [1, 2]) {
      const r = await measure(jobs, batch);
      const k = `${batch}:${jobs}`;
      runs.set(k, [...(runs.get(k) ?? []), r]);
      console.error(
        `round ${round + 1}: ${batch} items, ${jobs} isolates: ${
          Math.round(r.rps * batch)
        } events/s`,
      );
    }
  }
}
console.log(
  `data on ${dataOn}, ${connections} connections, ${seconds} s, median of ${rounds} rounds\n`,
);
console.log(
  "| items/request | isolates | requests/s | events/s | p50 ms | p99 ms | failed |",
);
console.log("|---|---|---|---|---|---|---|");
const eventsPerSec: Record<string, number> = {};
for (const [k, rs] of runs) {
  const [batch, jobs] = k.split(":");
  const rps = median(rs.map((r) => r.rps));
  eventsPerSec[k] = rps * Number(batch);
  console.log(
    `| ${batch} | ${jobs} | ${rps.toFixed(0)} | ${
      (rps * Number(batch)).toFixed(0)
    } | ${median(rs.map((r) => r.p50Ms)).toFixed(1)} | ${
      median(rs.map((r) => r.p99Ms)).toFixed(1)
    } | ${rs.reduce((n, r) => n + r.non2xx + r.errors, 0)} |`,
  );
}
for (const batch of [1, 100]) {
  console.log(
    `items/request ${batch}: 2 isolates / 1 isolate = ${
      (eventsPerSec[`${batch}:2`] / eventsPerSec[`${batch}:1`]).toFixed(2)
    }`,
  );
}
