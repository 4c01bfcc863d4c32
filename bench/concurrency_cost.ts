/**
 * What concurrency limits cost on the end-to-end rate: a fresh platform
 * process (every component, KV in a SQLite file, the echo Jobicolet of
 * tests/jobicolets) gets `items` webhook events in 100-item requests over
 * two connections; the rate is the events recorded per second from the
 * first request to the last execution (the queue's `processed` counter,
 * read every 50 ms). Cases, in rounds (each round runs every case once,
 * one after the other, so the machine's load falls on all alike), medians:
 *
 *   1. `baseline`: the bench package as it is (no limits).
 *   2. `keyed-1000`: the event with `concurrency: {key: "$.name", limit: 1}`
 *      and the items spread over 1,000 key values (`k0` .. `k999`).
 *   3. `keyed-hot`: the same limit, every item of one key value: the head
 *      of the queue always waits for its gate.
 *   4. `runtime-1`: the runtime with `concurrency: 1`, no key.
 *
 * Run: deno run -A bench/concurrency_cost.ts [--items=20000] [--rounds=3]
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
    rounds: { type: "string", default: "3" },
  },
}).values;
const ITEMS = Number(args.items);
const ROUNDS = Number(args.rounds);
const BATCH = 100;
const CONNECTIONS = 2;

type Case = "baseline" | "keyed-1000" | "keyed-hot" | "runtime-1";
const CASES: Case[] = ["baseline", "keyed-1000", "keyed-hot", "runtime-1"];

/** The bench package with the case's limit. */
function packageOf(which: Case): string {
  if (which === "runtime-1") {
    return PACKAGE.replace("retries: 0}", "retries: 0, concurrency: 1}");
  }
  return PACKAGE.replace(
    "      runtime: echo\n",
    '      runtime: echo\n      concurrency: {key: "$.name", limit: 1}\n',
  );
}

/** Request `r`'s body: 100 items, keys by the case. */
function bodyOf(which: Case, r: number): string {
  return JSON.stringify({
    data: Array.from({ length: BATCH }, (_, i) => ({
      n: 1,
      name: which === "keyed-hot" ? "hot" : `k${(r * BATCH + i) % 1000}`,
    })),
  });
}

async function runCase(which: Case): Promise<number> {
  const p = await startPlatformProcess({
    env: {
      JOBICO_LOG_LEVEL: "warn",
      JOBICO_MAX_QUEUE_DEPTH: String(ITEMS * 2),
    },
  });
  try {
    await deployBenchPackage(p.url, BENCH_TOKEN);
    if (which !== "baseline") {
      await deployYaml(p.url, packageOf(which));
    }
    const requests = Math.ceil(ITEMS / BATCH);
    const bodies = Array.from({ length: requests }, (_, r) => bodyOf(which, r));
    const t0 = performance.now();
    await sendAll(
      p.url,
      `/events/${TENANT}/${EVENT}`,
      requests,
      (i) => bodies[i],
      CONNECTIONS,
    );
    const total = requests * BATCH;
    await until(async () =>
      (await queueCounters(p.url, "pings")).processed >= total
    );
    return Math.round(total / ((performance.now() - t0) / 1000));
  } finally {
    await p.stop();
  }
}

const results = new Map<Case, number[]>(CASES.map((c) => [c, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of CASES) {
    const r = await runCase(c);
    results.get(c)!.push(r);
    console.log(JSON.stringify({ round, case: c, recordedPerSec: r }));
  }
}
const baseRuns = results.get("baseline")!;
const base = median(baseRuns);
console.log(
  `\n${ITEMS} webhook events, ${ROUNDS} rounds, medians; ratio to baseline in the same run\n`,
);
console.log(
  "| case | recorded/s | ratio of medians | median of ratios per round |",
);
console.log("| --- | ---: | ---: | ---: |");
for (const c of CASES) {
  const rs = results.get(c)!;
  const rec = median(rs);
  const paired = median(rs.map((r, i) => r / baseRuns[i]));
  console.log(
    `| ${c} | ${rec} | ${(rec / base).toFixed(2)} | ${paired.toFixed(2)} |`,
  );
}
