/**
 * What rate limits and debounce cost at the webhook and on the end-to-end
 * rate: a fresh platform process per case (every component, KV in a
 * SQLite file, the echo Jobicolet) gets `items` events of the bench
 * package's `ping` (items `{n, name}`, `n` the key) over `connections`
 * connections; the rate is events recorded per second from the first
 * request to the last execution (the queue's `processed` counter), and
 * `accepted/s` how fast the webhook took them. Cases (each round runs
 * every case once, one after the other, so the machine's load falls on
 * all alike; the table shows medians and each round's ratio to its own
 * baseline):
 *
 *   baseline      the event without limits
 *   reject-1key   rateLimit {limit: 1000000, period: 1d, mode: reject}: one
 *                 key, never over (every request reads and writes its window)
 *   throttle-10   rateLimit {limit: 1000000, period: 1d, key: $.n}: 10 keys,
 *                 never over (each request's items of 10 keys, 10 states)
 *   throttle-hold rateLimit {limit: HOLD, period: 1s}: one key, over it:
 *                 the rate the limit lets through (should be <= HOLD/s)
 *   debounce      debounce {period: 1s, key: $.n}: 30 keys; the items merge,
 *                 `recorded` counts what ran (30), not a rate; accepted/s is
 *                 what the webhook took
 *
 * `--batch=1` sends one item a request (the per-request cost; the keyed
 * states are read and written once per request), `--batch=100` 100.
 *
 * Run: deno run -A bench/rate_limit_cost.ts [--items=20000] [--batch=100]
 *      [--rounds=3] [--hold=2000]
 */
import { parseArgs } from "node:util";
import {
  deployBenchPackage,
  EVENT,
  PACKAGE,
  TENANT,
} from "./_bench_package.ts";
import { BENCH_TOKEN, startPlatformProcess } from "./_processes.ts";
import {
  deployYaml,
  median,
  queueCounters,
  sendAll,
  until,
} from "./_webhook_client.ts";

const args = parseArgs({
  options: {
    items: { type: "string", default: "20000" },
    batch: { type: "string", default: "100" },
    rounds: { type: "string", default: "3" },
    hold: { type: "string", default: "2000" },
    connections: { type: "string", default: "8" },
  },
}).values;
const ITEMS = Number(args.items);
const BATCH = Number(args.batch);
const ROUNDS = Number(args.rounds);
const HOLD = Number(args.hold);
const CONNECTIONS = Number(args.connections);

const CASES = {
  baseline: { flow: "", keys: 1 },
  "reject-1key": {
    flow: "rateLimit: {limit: 1000000, period: 1d, mode: reject}",
    keys: 1,
  },
  "throttle-10": {
    flow: "rateLimit: {limit: 1000000, period: 1d, key: $.n}",
    keys: 10,
  },
  "throttle-hold": { flow: `rateLimit: {limit: ${HOLD}, period: 1s}`, keys: 1 },
  debounce: { flow: "debounce: {period: 1s, key: $.n}", keys: 30 },
} as const;
type Case = keyof typeof CASES;

interface Result {
  recordedPerSec: number;
  acceptPerSec: number;
  recorded: number;
}

const processed = async (url: string) =>
  (await queueCounters(url, "pings")).processed;

async function backlog(url: string): Promise<number> {
  const q = await queueCounters(url, "pings");
  return q.depth + q.inFlight;
}

async function runCase(which: Case): Promise<Result> {
  const { flow, keys } = CASES[which];
  const p = await startPlatformProcess({
    env: {
      JOBICO_LOG_LEVEL: "warn",
      JOBICO_MAX_QUEUE_DEPTH: String(ITEMS * 2),
    },
  });
  try {
    await deployBenchPackage(p.url, BENCH_TOKEN);
    if (flow) {
      await deployYaml(
        p.url,
        PACKAGE.replace(
          "      runtime: echo\n",
          `      runtime: echo\n      ${flow}\n`,
        ),
      );
    }
    const requests = Math.ceil(ITEMS / BATCH);
    const bodies = Array.from({ length: keys }, (_, r) =>
      JSON.stringify({
        data: Array.from(
          { length: BATCH },
          (_, i) => ({ n: (r + i) % keys, name: "Ada" }),
        ),
      }));
    const t0 = performance.now();
    await sendAll(
      p.url,
      `/events/${TENANT}/${EVENT}`,
      requests,
      (i) => bodies[i % bodies.length],
      CONNECTIONS,
    );
    const accepted = performance.now();
    const total = requests * BATCH;
    // Debounced items merge: wait for what is left to run.
    await until(async () =>
      which === "debounce"
        ? await backlog(p.url) === 0 && await processed(p.url) > 0
        : await processed(p.url) >= total
    );
    const end = performance.now();
    const recorded = await processed(p.url);
    return {
      recordedPerSec: Math.round(recorded / ((end - t0) / 1000)),
      acceptPerSec: Math.round(total / ((accepted - t0) / 1000)),
      recorded,
    };
  } finally {
    await p.stop();
  }
}

const names = Object.keys(CASES) as Case[];
const results = new Map<Case, Result[]>(names.map((c) => [c, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of names) {
    const r = await runCase(c);
    results.get(c)!.push(r);
    console.log(JSON.stringify({ round, case: c, ...r }));
  }
}
const baseRuns = results.get("baseline")!;
console.log(
  `\n${ITEMS} events in ${BATCH}-item requests over ${CONNECTIONS} connections, ${ROUNDS} rounds, medians\n`,
);
console.log(
  "| case | recorded/s | median ratio to baseline | accepted/s | median ratio to baseline | recorded |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const c of names) {
  const rs = results.get(c)!;
  const ratio = (f: (r: Result) => number) =>
    median(rs.map((r, i) => f(r) / f(baseRuns[i]))).toFixed(2);
  console.log(
    `| ${c} | ${median(rs.map((r) => r.recordedPerSec))} | ${
      ratio((r) => r.recordedPerSec)
    } | ${median(rs.map((r) => r.acceptPerSec))} | ${
      ratio((r) => r.acceptPerSec)
    } | ${median(rs.map((r) => r.recorded))} |`,
  );
}
