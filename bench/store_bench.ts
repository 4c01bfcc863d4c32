/**
 * The stores side by side, same scenarios, same run: the Deno KV on disk
 * (one SQLite file shared by the processes) and PostgreSQL (a cluster of
 * this run's own, durable: fsync and synchronous commit on, as the KV's
 * SQLite file is).
 *
 * - ingest: a platform process with ctl, repo and listener, single-item
 *   requests and 100-item batches (req/s, items/s, p99);
 * - end to end with 1 and with 2 executor processes: one process takes
 *   the events (ctl, repo, recorder, listener), the executors run beside
 *   it on the same store; sustained executions recorded/s and the p99
 *   from accept to recorded at half that rate (bench/end_to_end.ts).
 *
 *   deno run -A bench/store_bench.ts [--seconds=5]
 *
 * A PostgreSQL in JOBICO_BENCH_PG (a postgres:// URL of a database this may
 * fill) is used instead of starting one.
 */
import { startPgCluster } from "@jobico/goico/testing";
import postgres from "postgres";
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { runLoad } from "./_load.ts";
import { endToEndBench } from "./end_to_end.ts";
import {
  BENCH_TOKEN,
  type BenchProcess,
  startPlatformProcess,
} from "./_processes.ts";

export interface StoreRow {
  store: "Deno KV (SQLite file)" | "PostgreSQL";
  ingest: {
    singleRps: number;
    singleP99Ms: number;
    batchItemsPerSec: number;
    batchP99Ms: number;
  };
  /** By number of executor processes. */
  endToEnd: {
    executors: number;
    recordedPerSec: number;
    p99Ms?: number;
    rate?: number;
    missing?: number;
  }[];
}

export interface StoreBenchOptions {
  seconds: number;
  /** Log lines. */
  log?: (line: string) => void;
}

type Store = {
  name: StoreRow["store"];
  /** Settings of a process on a fresh store; `done` drops it. */
  fresh(): Promise<
    { env: Record<string, string>; data: string; done(): Promise<void> }
  >;
};

function group(
  store: Store,
  executors: number,
): { start: () => Promise<BenchProcess>; done(): Promise<void> } {
  // Each start is a fresh store: sustained and latency runs do not share.
  const opened: (() => Promise<void>)[] = [];
  return {
    start: async () => {
      const s = await store.fresh();
      opened.push(s.done);
      const env = { ...s.env, JOBICO_MAX_QUEUE_DEPTH: "1000000000" };
      const front = await startPlatformProcess({
        components: "ctl,repo,recorder,listener",
        data: s.data,
        env,
      });
      const runners: BenchProcess[] = [];
      try {
        for (let i = 0; i < executors; i++) {
          runners.push(
            await startPlatformProcess({
              components: "executor",
              data: s.data,
              env,
            }),
          );
        }
      } catch (err) {
        for (const r of runners) await r.stop();
        await front.stop();
        throw err;
      }
      return {
        ...front,
        stop: async () => {
          for (const r of runners) await r.stop();
          return await front.stop();
        },
      };
    },
    done: async () => {
      for (const d of opened) await d();
    },
  };
}

async function ingest(
  store: Store,
  seconds: number,
): Promise<StoreRow["ingest"]> {
  const s = await store.fresh();
  const p = await startPlatformProcess({
    components: "ctl,repo,listener",
    data: s.data,
    env: { ...s.env, JOBICO_MAX_QUEUE_DEPTH: "1000000000" },
  });
  try {
    await deployBenchPackage(p.url, BENCH_TOKEN);
    const load = (items: number, secs: number) =>
      runLoad({
        url: `${p.url}/events/${TENANT}/${EVENT}`,
        body: eventBody(items),
        headers: { authorization: `Bearer ${BENCH_TOKEN}` },
        connections: 32,
        seconds: secs,
      });
    await load(1, 1);
    const single = await load(1, seconds);
    const batch = await load(100, seconds);
    for (const r of [single, batch]) {
      if (r.non2xx > 0 || r.errors > 0) {
        throw new Error(
          `ingest on ${store.name}: ${r.non2xx} answers were not 2xx, ${r.errors} failed`,
        );
      }
    }
    return {
      singleRps: Math.round(single.rps),
      singleP99Ms: single.p99Ms,
      batchItemsPerSec: Math.round(batch.rps * 100),
      batchP99Ms: batch.p99Ms,
    };
  } finally {
    await p.stop();
    await s.done();
  }
}

/** Runs the scenarios on both stores. */
export async function storeBench(o: StoreBenchOptions): Promise<StoreRow[]> {
  const log = o.log ?? (() => {});
  const given = Deno.env.get("JOBICO_BENCH_PG");
  const cluster = given ? undefined : await startPgCluster({ durable: true });
  const server = given ?? cluster!.url;
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  const stores: Store[] = [
    {
      name: "Deno KV (SQLite file)",
      fresh: async () => {
        const data = await Deno.makeTempDir({ prefix: "jobico-store-bench-" });
        return {
          env: {},
          data,
          done: () => Deno.remove(data, { recursive: true }).catch(() => {}),
        };
      },
    },
    {
      name: "PostgreSQL",
      fresh: async () => {
        const data = await Deno.makeTempDir({ prefix: "jobico-store-bench-" });
        const db = `bench_${crypto.randomUUID().replaceAll("-", "")}`;
        await admin.unsafe(`create database ${db}`);
        const url = new URL(server);
        url.pathname = `/${db}`;
        return {
          env: { JOBICO_STORE: url.toString() },
          data,
          done: async () => {
            await Deno.remove(data, { recursive: true }).catch(() => {});
            await admin.unsafe(`drop database if exists ${db} with (force)`);
          },
        };
      },
    },
  ];
  const rows: StoreRow[] = [];
  try {
    for (const store of stores) {
      log(`${store.name}: ingest`);
      const row: StoreRow = {
        store: store.name,
        ingest: await ingest(store, o.seconds),
        endToEnd: [],
      };
      log(JSON.stringify(row.ingest));
      for (const executors of [1, 2]) {
        log(`${store.name}: end to end, ${executors} executor process(es)`);
        const g = group(store, executors);
        try {
          const r = await endToEndBench({
            seconds: o.seconds * 2,
            repeats: 1,
            drainItems: 0,
            start: g.start,
          });
          row.endToEnd.push({
            executors,
            recordedPerSec: r.sustained.recordedPerSec,
            p99Ms: r.latency?.p99Ms,
            rate: r.latency?.rate,
            missing: r.latency?.missing,
          });
          log(JSON.stringify(row.endToEnd.at(-1)));
        } finally {
          await g.done();
        }
      }
      rows.push(row);
    }
  } finally {
    await admin.end();
    await cluster?.stop();
  }
  return rows;
}

const n = (x: number | undefined) =>
  x === undefined ? "-" : Math.round(x).toLocaleString("en");

/** The Markdown table of the rows. */
export function storeMarkdown(rows: StoreRow[]): string[] {
  const lines = [
    "**Stores** (same scenarios on each store, same run; PostgreSQL durable: fsync and synchronous commit on)",
    "",
    `| measure | ${rows.map((r) => r.store).join(" | ")} |`,
    `| --- | ${rows.map(() => "---").join(" | ")} |`,
    `| ingest, single-item requests, req/s | ${
      rows.map((r) => n(r.ingest.singleRps)).join(" | ")
    } |`,
    `| ingest, single, p99 | ${
      rows.map((r) => `${r.ingest.singleP99Ms} ms`).join(" | ")
    } |`,
    `| ingest, 100-item batches, items/s | ${
      rows.map((r) => n(r.ingest.batchItemsPerSec)).join(" | ")
    } |`,
    `| ingest, batches, p99 | ${
      rows.map((r) => `${r.ingest.batchP99Ms} ms`).join(" | ")
    } |`,
  ];
  for (const executors of [1, 2]) {
    const of = (r: StoreRow) =>
      r.endToEnd.find((e) => e.executors === executors);
    lines.push(
      `| end to end, ${executors} executor process${
        executors > 1 ? "es" : ""
      }, sustained recorded/s | ${
        rows.map((r) => n(of(r)?.recordedPerSec)).join(" | ")
      } |`,
      `| end to end, ${executors} executor process${
        executors > 1 ? "es" : ""
      }, p99 accept to recorded (at events/s) | ${
        rows.map((r) => {
          const e = of(r);
          return e?.p99Ms === undefined
            ? "-"
            : `${e.p99Ms} ms (${n(e.rate)}/s${
              e.missing ? `, ${e.missing} missing` : ""
            })`;
        }).join(" | ")
      } |`,
    );
  }
  lines.push("");
  return lines;
}

if (import.meta.main) {
  const seconds = Number(
    Deno.args.find((a) => a.startsWith("--seconds="))?.slice(10) ?? 5,
  );
  const rows = await storeBench({
    seconds,
    log: (l) => console.error(`store bench: ${l}`),
  });
  console.log(JSON.stringify(rows, null, 2));
  console.log(storeMarkdown(rows).join("\n"));
}
