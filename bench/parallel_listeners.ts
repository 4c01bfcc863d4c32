/**
 * Listener throughput with 1 and with 2 isolates of `deno serve --parallel
 * serve.ts` (components ctl,repo,listener; no executor, so only ingest is
 * measured), same load generator and connections, in one run:
 *
 *   deno run -A bench/parallel_listeners.ts [seconds=5] [connections=32]
 *
 * Prints a table and the 2/1 ratio; docs/scaling.md quotes it.
 */
import { deployGreetOver } from "../tests/_deploy_over_http.ts";
import { authFetch } from "../tests/_auth_fetch.ts";
import {
  freePort,
  spawnParallel,
  waitIsolates,
} from "../tests/_spawn_parallel.ts";
import { runLoad } from "./_load.ts";

const TOKEN = "bench-parallel-admin-token";
const seconds = Number(Deno.args[0] ?? 5);
const connections = Number(Deno.args[1] ?? 32);

async function measure(jobs: number, batch: number) {
  const data = await Deno.makeTempDir({ prefix: "jobico-bench-parallel-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnParallel(data, port, jobs, TOKEN, "ctl,repo,listener", {
    JOBICO_MAX_QUEUE_DEPTH: "1000000000",
    JOBICO_LOG_LEVEL: "error",
  });
  try {
    if ((await waitIsolates(url, jobs)).size !== jobs) {
      throw new Error(`${jobs} isolates did not come up`);
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
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(data, { recursive: true });
  }
}

const rows: string[][] = [];
const results: Record<string, number> = {};
for (const batch of [1, 100]) {
  for (const jobs of [1, 2]) {
    const r = await measure(jobs, batch);
    results[`${batch}:${jobs}`] = r.rps * batch;
    rows.push([
      String(batch),
      String(jobs),
      r.rps.toFixed(0),
      (r.rps * batch).toFixed(0),
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      String(r.non2xx + r.errors),
      r.generator,
    ]);
  }
}
console.log(
  "| items/request | isolates | requests/s | events/s | p50 ms | p99 ms | failed | load generator |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
for (const batch of [1, 100]) {
  console.log(
    `items/request ${batch}: 2 isolates / 1 isolate = ${
      (results[`${batch}:2`] / results[`${batch}:1`]).toFixed(2)
    }`,
  );
}
