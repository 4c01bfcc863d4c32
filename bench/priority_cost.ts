/**
 * What priorities cost. Two parts, each a baseline and cases in the same
 * run, in rounds (each round runs every case once, one after the other, so
 * the machine's load falls on all alike), medians:
 *
 * End to end: a fresh platform process (every component, KV in a SQLite
 * file, the echo Jobicolet of tests/jobicolets) gets `items` webhook
 * events in 100-item requests over two connections; the rate is the events
 * recorded per second from the first request to the last execution (the
 * queue's `processed` counter, read every 50 ms).
 *
 *   1. `baseline`: the bench package as it is, no `?priority=` (every item
 *      normal: the lease still reads the three bands' heads).
 *   2. `event-low`: the event with `priority: low` (every item in band 2).
 *   3. `mixed`: requests in turn `?priority=high`, none, `?priority=low`:
 *      the three bands full, each lease merges them.
 *
 * The queue alone (in process, `:memory:` KV): `items` items appended, then
 * leased 16 at a time and acknowledged, with a queue without priorities
 * (one list read a lease, as before them) and with them (three, merged),
 * the items in one band or spread over three.
 *
 * Run: deno run -A bench/priority_cost.ts [--items=20000] [--rounds=3]
 */
import { parseArgs } from "node:util";
import {
  DurableQueue,
  jsonRecords,
  type Priority,
  WriteBatch,
} from "@jobico/goico";
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

type Case = "baseline" | "event-low" | "mixed";
const CASES: Case[] = ["baseline", "event-low", "mixed"];

/** Request `r`'s query string. */
function queryOf(which: Case, r: number): string {
  if (which !== "mixed") return "";
  return ["?priority=high", "", "?priority=low"][r % 3];
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
    if (which === "event-low") {
      await deployYaml(
        p.url,
        PACKAGE.replace(
          "      runtime: echo\n",
          "      runtime: echo\n      priority: low\n",
        ),
      );
    }
    const requests = Math.ceil(ITEMS / BATCH);
    const body = JSON.stringify({
      data: Array.from({ length: BATCH }, () => ({ n: 1, name: "p" })),
    });
    const t0 = performance.now();
    await sendAll(
      p.url,
      (i) => `/events/${TENANT}/${EVENT}${queryOf(which, i)}`,
      requests,
      () => body,
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

type QueueCase = "plain" | "one-band" | "three-bands";
const QUEUE_CASES: QueueCase[] = ["plain", "one-band", "three-bands"];

/** Leased items a second through a queue alone. */
async function runQueue(which: QueueCase): Promise<number> {
  const kv = await Deno.openKv(":memory:");
  try {
    type V = { n: number; p?: Priority };
    const q = new DurableQueue<V>(kv, ["q"], {
      codec: jsonRecords,
      ...(which !== "plain" && { priorityOf: (v: V) => v.p }),
    });
    const bands: (Priority | undefined)[] = which === "three-bands"
      ? ["high", undefined, "low"]
      : [undefined];
    let id = 0;
    for (let i = 0; i < ITEMS; i += BATCH) {
      const batch = new WriteBatch(kv);
      q.append(
        batch,
        "a",
        Array.from({ length: BATCH }, (_, j) => ({
          id: String(++id).padStart(12, "0"),
          value: {
            n: i + j,
            ...(bands[j % bands.length] && { p: bands[j % bands.length] }),
          },
        })),
      );
      await batch.commit();
    }
    const t0 = performance.now();
    let done = 0;
    while (done < ITEMS) {
      const items = await q.lease("a", 16);
      const batch = new WriteBatch(kv);
      q.ackAll(batch, items);
      await batch.commit();
      done += items.length;
    }
    return Math.round(done / ((performance.now() - t0) / 1000));
  } finally {
    kv.close();
  }
}

function table<C extends string>(
  title: string,
  unit: string,
  cases: C[],
  results: Map<C, number[]>,
): void {
  const baseRuns = results.get(cases[0])!;
  const base = median(baseRuns);
  console.log(`\n${title}\n`);
  console.log(
    `| case | ${unit} | ratio of medians | median of ratios per round |`,
  );
  console.log("| --- | ---: | ---: | ---: |");
  for (const c of cases) {
    const rs = results.get(c)!;
    const rec = median(rs);
    const paired = median(rs.map((r, i) => r / baseRuns[i]));
    console.log(
      `| ${c} | ${rec} | ${(rec / base).toFixed(2)} | ${paired.toFixed(2)} |`,
    );
  }
}

const results = new Map<Case, number[]>(CASES.map((c) => [c, []]));
const queueResults = new Map<QueueCase, number[]>(
  QUEUE_CASES.map((c) => [c, []]),
);
for (let round = 0; round < ROUNDS; round++) {
  for (const c of CASES) {
    const r = await runCase(c);
    results.get(c)!.push(r);
    console.log(JSON.stringify({ round, case: c, recordedPerSec: r }));
  }
  for (const c of QUEUE_CASES) {
    const r = await runQueue(c);
    queueResults.get(c)!.push(r);
    console.log(JSON.stringify({ round, case: c, leasedPerSec: r }));
  }
}
table(
  `${ITEMS} webhook events end to end, ${ROUNDS} rounds, medians; ratio to baseline in the same run`,
  "recorded/s",
  CASES,
  results,
);
table(
  `${ITEMS} items leased 16 at a time and acknowledged, the queue alone, ${ROUNDS} rounds`,
  "leased/s",
  QUEUE_CASES,
  queueResults,
);
