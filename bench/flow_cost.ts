/**
 * What schedules and delayed events cost on the end-to-end rate: a fresh
 * platform process (every component, KV in a SQLite file, the echo
 * Jobicolet of tests/jobicolets) gets `items` webhook events in 100-item
 * requests over two connections, and the rate is the events recorded per
 * second from the first request to the last execution (the queue's
 * `processed` counter, read every 50 ms). Cases, in rounds (each round runs
 * every case once, one after the other, so the machine's load falls on all
 * alike), the table shows each figure's median:
 *
 *   1. `baseline`: events sent to run now.
 *   2. `schedules`: the same while 50 scheduled events fire every second
 *      (`* * * * * *`, JOBICO_SCHEDULE_MIN_MS=1000; 50 ticks/s that the
 *      schedulers send and the executor runs beside the webhook's events).
 *   3. `delayed`: every request with `?delay=1s`: accepted as delayed
 *      records (two writes an item), then put back in the queue when due.
 *      Its rate counts from the first request to the last execution, less
 *      the second of delay; `acceptPerSec` is how fast the webhook took them.
 *
 *   0. with `--before=DIR` (another build: `git archive main | tar -x -C
 *      DIR`): its baseline too, what this build's plain path costs against
 *      it (execution records that keep their input, the idle scheduler).
 *
 * Run: deno run -A bench/flow_cost.ts [--items=20000] [--rounds=3] [--before=DIR]
 */
import { parseArgs } from "node:util";
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { BENCH_TOKEN, startPlatformProcess } from "./_processes.ts";
import {
  BENCH_AUTH,
  deployYaml,
  median,
  queueCounters,
  sendAll,
  until,
} from "./_webhook_client.ts";

const args = parseArgs({
  options: {
    items: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
    schedules: { type: "string", default: "50" },
    before: { type: "string" },
  },
}).values;
const ITEMS = Number(args.items);
const ROUNDS = Number(args.rounds);
const SCHEDULES = Number(args.schedules);
const BATCH = 100;
const CONNECTIONS = 2;

type Case = "before" | "baseline" | "schedules" | "delayed";
const CASES: Case[] = [
  ...(args.before ? ["before" as const] : []),
  "baseline",
  "schedules",
  "delayed",
];

interface Result {
  /** Webhook events recorded per second. */
  recordedPerSec: number;
  /** Items the webhook accepted per second. */
  acceptPerSec: number;
  /** Scheduled executions recorded during the run. */
  ticks: number;
}

/** A package of `n` events that fire every second, on their own queue. */
function cronPackage(n: number): string {
  const jobs = Array.from({ length: n }, (_, i) => `
  - event:
      id: tick${i}
      schema: {id: tick-schema, schemaref: tick.schema.json}
      supplierqueue: ticks
      runtime: echo
      schedule: "* * * * * *"`).join("");
  return `
id: crons
tenant: ${TENANT}
queues:
  - id: ticks
jobs:${jobs}
runtimes:
  - {id: echo, moduleref: echo.wasm, retries: 0}
`;
}

const processed = async (url: string, queue: string) =>
  (await queueCounters(url, queue)).processed;

async function runCase(which: Case): Promise<Result> {
  const p = await startPlatformProcess({
    ...(which === "before" && { root: args.before }),
    env: {
      JOBICO_LOG_LEVEL: "warn",
      JOBICO_SCHEDULE_MIN_MS: "1000",
      JOBICO_MAX_QUEUE_DEPTH: String(ITEMS * 2),
    },
  });
  try {
    await deployBenchPackage(p.url, BENCH_TOKEN);
    if (which === "schedules") {
      const put = await fetch(
        `${p.url}/api/v1/tenants/${TENANT}/files/tick.schema.json`,
        { method: "PUT", headers: BENCH_AUTH, body: '{"type":"object"}' },
      );
      await put.body?.cancel();
      await deployYaml(p.url, cronPackage(SCHEDULES));
      // Let the schedules run a little before the load.
      await new Promise((r) => setTimeout(r, 2000));
    }
    const ticksBefore = await processed(p.url, "ticks");
    const query = which === "delayed" ? "?delay=1s" : "";
    const body = eventBody(BATCH);
    const requests = Math.ceil(ITEMS / BATCH);
    const t0 = performance.now();
    await sendAll(
      p.url,
      `/events/${TENANT}/${EVENT}${query}`,
      requests,
      () => body,
      CONNECTIONS,
    );
    const accepted = performance.now();
    const total = requests * BATCH;
    await until(async () => await processed(p.url, "pings") >= total);
    const done = performance.now();
    const ticks = await processed(p.url, "ticks") - ticksBefore;
    const seconds = (done - t0) / 1000 - (which === "delayed" ? 1 : 0);
    return {
      recordedPerSec: Math.round(total / seconds),
      acceptPerSec: Math.round(total / ((accepted - t0) / 1000)),
      ticks,
    };
  } finally {
    await p.stop();
  }
}

const results = new Map<Case, Result[]>(CASES.map((c) => [c, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of CASES) {
    const r = await runCase(c);
    results.get(c)!.push(r);
    console.log(JSON.stringify({ round, case: c, ...r }));
  }
}
const base = median(results.get("baseline")!.map((r) => r.recordedPerSec));
console.log(
  `\n${ITEMS} webhook events, ${ROUNDS} rounds, medians; ratio to baseline in the same run\n`,
);
console.log(
  "| case | recorded/s | ratio of medians | median of ratios per round | accepted/s | scheduled runs meanwhile |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
const baseRuns = results.get("baseline")!;
for (const c of CASES) {
  const rs = results.get(c)!;
  const rec = median(rs.map((r) => r.recordedPerSec));
  // Each round's case against the same round's baseline (run beside it).
  const paired = median(
    rs.map((r, i) => r.recordedPerSec / baseRuns[i].recordedPerSec),
  );
  console.log(
    `| ${c} | ${rec} | ${(rec / base).toFixed(2)} | ${paired.toFixed(2)} | ${
      median(rs.map((r) => r.acceptPerSec))
    } | ${median(rs.map((r) => r.ticks))} |`,
  );
}
