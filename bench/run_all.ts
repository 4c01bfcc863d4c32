/**
 * `deno task bench`: runs every scenario, writes bench/results.json and the
 * results table of BENCHMARKS.md (between its `results:start` and
 * `results:end` markers; the rest of the file is kept).
 *
 *   deno task bench [--seconds=5] [--repeats=3] [--connections=32] [--only=ingest,e2e,naive,executor,stores,micro]
 *
 * Every scenario measures its baseline in the same run, one after the
 * other, with the same load generator: the ratios are what count on a
 * shared, noisy machine.
 */
import { parseArgs } from "node:util";
import { endToEndBench, type EndToEndResult } from "./end_to_end.ts";
import {
  executorOverheadBench,
  type ExecutorOverheadResult,
} from "./executor_overhead.ts";
import { ingestBench, type IngestResult } from "./ingest.ts";
import { type Machine, machine } from "./_machine.ts";
import { microArgs, microBench, type MicroCase } from "./micro.ts";
import { startNaiveServer } from "./_processes.ts";
import { loadTool, wrkArgs } from "./_load.ts";
import { storeBench, storeMarkdown, type StoreRow } from "./store_bench.ts";

export interface Results {
  machine: Machine;
  generator: string;
  settings: { seconds: number; repeats: number; connections: number };
  ingest?: IngestResult;
  endToEnd?: EndToEndResult;
  naive?: EndToEndResult;
  executor?: ExecutorOverheadResult;
  /** The same scenarios on Deno KV and on PostgreSQL (bench/store_bench.ts). */
  stores?: StoreRow[];
  micro?: MicroCase[];
  targets: Target[];
}

export interface Target {
  name: string;
  want: string;
  got: string;
  met: boolean;
}

const TARGETS = {
  ingestSingle: 0.5,
  ingestDiskOverTmpfs: 0.9,
  ingestWithExecutor: 0.25,
  ingestBatchItems: 100_000,
  e2eRate: 10_000,
  p99Ms: 50,
  executorRatio: 2,
};

export function targetsOf(r: Results): Target[] {
  const t: Target[] = [];
  if (r.ingest) {
    const q = r.ingest.ratios;
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const single = q.singleTmpfs ?? q.single;
    t.push({
      name:
        `ingest, single-item requests vs bare Hono (only the listener, data on ${
          q.singleTmpfs === undefined ? "disk" : "tmpfs"
        })`,
      want: `>= ${pct(TARGETS.ingestSingle)}`,
      got: pct(single),
      met: single >= TARGETS.ingestSingle,
    });
    if (q.diskOverTmpfs !== undefined) {
      t.push({
        name: "ingest, single-item requests, data on disk vs on tmpfs",
        want: `>= ${pct(TARGETS.ingestDiskOverTmpfs)}`,
        got: pct(q.diskOverTmpfs),
        met: q.diskOverTmpfs >= TARGETS.ingestDiskOverTmpfs,
      });
    }
    if (q.singleWithExecutor !== undefined) {
      t.push({
        name: "ingest, single-item requests with every component vs bare Hono",
        want: `>= ${pct(TARGETS.ingestWithExecutor)}`,
        got: pct(q.singleWithExecutor),
        met: q.singleWithExecutor >= TARGETS.ingestWithExecutor,
      });
    }
    t.push({
      name: "ingest, 100-item batches",
      want: `>= ${TARGETS.ingestBatchItems.toLocaleString("en")} items/s`,
      got: `${
        r.ingest.platform.batch.itemsPerSec.toLocaleString("en")
      } items/s`,
      met: r.ingest.platform.batch.itemsPerSec >= TARGETS.ingestBatchItems,
    });
  }
  if (r.endToEnd) {
    t.push({
      name: "end to end, sustained",
      want: `>= ${TARGETS.e2eRate.toLocaleString("en")} events/s`,
      got: `${
        r.endToEnd.sustained.recordedPerSec.toLocaleString("en")
      } events/s`,
      met: r.endToEnd.sustained.recordedPerSec >= TARGETS.e2eRate,
    });
    if (r.endToEnd.latency) {
      const l = r.endToEnd.latency;
      t.push({
        name: "p99 accept to recorded, at half the sustained rate",
        want: `<= ${TARGETS.p99Ms} ms`,
        got: `${l.p99Ms} ms at ${l.rate} events/s`,
        met: l.p99Ms <= TARGETS.p99Ms && l.missing === 0,
      });
    }
  }
  if (r.executor) {
    t.push({
      name: "executor overhead vs raw V8 (instantiate + call)",
      want: `<= ${TARGETS.executorRatio}x`,
      got: `${r.executor.ratios.platformOverRaw}x`,
      met: r.executor.ratios.platformOverRaw <= TARGETS.executorRatio,
    });
  }
  return t;
}

const n = (x: number | undefined) =>
  x === undefined ? "-" : Math.round(x).toLocaleString("en");
const ms = (x: number | undefined) => (x === undefined ? "-" : `${x} ms`);
const us = (x: number | undefined) => (x === undefined ? "-" : `${x} µs`);

/** The Markdown of the results (the part of BENCHMARKS.md that is generated). */
export function resultsMarkdown(r: Results): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(
    `Run of ${
      m.date.slice(0, 16).replace("T", " ")
    } UTC on ${m.os}, ${m.cores} cores, ` +
      `${m.memoryGiB} GiB; Deno ${m.deno} (V8 ${m.v8}); load generator: ${r.generator}; ` +
      `${r.settings.seconds} s per run, best of ${r.settings.repeats}, ` +
      `${r.settings.connections} connections.`,
    "",
  );
  if (r.targets.length) {
    lines.push(
      "| target | wanted | measured | met |",
      "| --- | --- | --- | --- |",
    );
    for (const t of r.targets) {
      lines.push(
        `| ${t.name} | ${t.want} | ${t.got} | ${t.met ? "yes" : "**no**"} |`,
      );
    }
    lines.push("");
  }
  if (r.ingest) {
    const i = r.ingest;
    lines.push(
      "**Ingest** (events accepted per second; 200 only after the atomic commit)",
      "",
      "| case | bare Hono | platform (ctl,repo,listener) | ratio | same, data on tmpfs | platform with executor |",
      "| --- | --- | --- | --- | --- | --- |",
      `| single-item requests, req/s | ${n(i.bare.single.rps)} | ${
        n(i.platform.single.rps)
      } | ${i.ratios.single} | ${n(i.tmpfs?.single.rps)} | ${
        n(i.withExecutor?.single.rps)
      } |`,
      `| ${i.batch}-item batches, items/s | ${n(i.bare.batch.itemsPerSec)} | ${
        n(i.platform.batch.itemsPerSec)
      } | ${i.ratios.batch} | ${n(i.tmpfs?.batch.itemsPerSec)} | ${
        n(i.withExecutor?.batch.itemsPerSec)
      } |`,
      `| single, main-thread CPU per request | ${
        us(i.bare.single.mainCpuUs)
      } | ${us(i.platform.single.mainCpuUs)} | ${
        i.ratios.cpuBareOverPlatform ?? ""
      } | ${us(i.tmpfs?.single.mainCpuUs)} | ${
        us(i.withExecutor?.single.mainCpuUs)
      } |`,
      `| single, p50 / p99 latency | ${ms(i.bare.single.p50Ms)} / ${
        ms(i.bare.single.p99Ms)
      } | ${ms(i.platform.single.p50Ms)} / ${ms(i.platform.single.p99Ms)} | | ${
        ms(i.tmpfs?.single.p50Ms)
      } / ${ms(i.tmpfs?.single.p99Ms)} | ${
        ms(i.withExecutor?.single.p50Ms)
      } / ${ms(i.withExecutor?.single.p99Ms)} |`,
      `| batch, p50 / p99 latency | ${ms(i.bare.batch.p50Ms)} / ${
        ms(i.bare.batch.p99Ms)
      } | ${ms(i.platform.batch.p50Ms)} / ${ms(i.platform.batch.p99Ms)} | | ${
        ms(i.tmpfs?.batch.p50Ms)
      } / ${ms(i.tmpfs?.batch.p99Ms)} | ${ms(i.withExecutor?.batch.p50Ms)} / ${
        ms(i.withExecutor?.batch.p99Ms)
      } |`,
      "",
    );
  }
  if (r.endToEnd || r.naive) {
    const e = r.endToEnd, v = r.naive;
    lines.push(
      "**End to end** (POST to recorded execution, echo Jobicolet)",
      "",
      "| measure | platform (DurableQueue) | naive (kv.enqueue / listenQueue) |",
      "| --- | --- | --- |",
      `| sustained, executions recorded/s | ${
        n(e?.sustained.recordedPerSec)
      } | ${n(v?.sustained.recordedPerSec)} |`,
      `| meanwhile accepted, items/s | ${n(e?.sustained.acceptedPerSec)} | ${
        n(v?.sustained.acceptedPerSec)
      } |`,
      `| latency run: rate asked (half the sustained), events/s | ${
        n(e?.latency?.asked)
      } | ${n(v?.latency?.asked)} |`,
      `| latency run: rate sent, events/s | ${n(e?.latency?.rate)} | ${
        n(v?.latency?.rate)
      } |`,
      `| accept to recorded, p50 | ${ms(e?.latency?.p50Ms)} | ${
        ms(v?.latency?.p50Ms)
      } |`,
      `| accept to recorded, p90 | ${ms(e?.latency?.p90Ms)} | ${
        ms(v?.latency?.p90Ms)
      } |`,
      `| accept to recorded, p99 | ${ms(e?.latency?.p99Ms)} | ${
        ms(v?.latency?.p99Ms)
      } |`,
      `| accept to recorded, max | ${ms(e?.latency?.maxMs)} | ${
        ms(v?.latency?.maxMs)
      } |`,
      `| events never recorded | ${n(e?.latency?.missing)} | ${
        n(v?.latency?.missing)
      } |`,
    );
    const d = e?.drain;
    if (d) {
      const c = d.cpuUsPerEvent;
      lines.push(
        `| executor alone, draining ${n(d.items)} queued events, events/s | ${
          n(d.perSec)
        } | - |`,
        `| meanwhile CPU per event: main isolate / KV SQLite thread / sandbox Workers / other, µs | ${
          c ? `${c.main} / ${c.kv} / ${c.sandbox} / ${c.other}` : "-"
        } | - |`,
      );
    }
    lines.push("");
  }
  if (r.executor) {
    const x = r.executor;
    lines.push(
      "**Executor overhead** (µs per execution of the echo module, in-process, best of runs)",
      "",
      "| path | µs/execution | vs platform |",
      "| --- | --- | --- |",
      `| raw V8: instantiate + \`_start\` + \`init\` + ABI call | ${x.us.rawFresh} | ${
        (x.us.rawFresh / x.us.platform).toFixed(2)
      }x |`,
      `| raw V8: ABI call on a warm instance | ${x.us.rawWarm} | ${
        (x.us.rawWarm / x.us.platform).toFixed(2)
      }x |`,
      `| WasmGuest.call, warm, unmetered, this isolate | ${x.us.guestWarm} | ${
        (x.us.guestWarm / x.us.platform).toFixed(2)
      }x |`,
      `| **platform**: JobicoletRunner.runBatch, WasmPool Worker, metered, batches of 64 | ${x.us.platform} | 1x |`,
      `| npm:@extism/extism 1.0.3, warm plugin, this isolate | ${
        x.us.extism ?? "-"
      } | ${
        x.us.extism ? (x.us.extism / x.us.platform).toFixed(2) + "x" : "-"
      } |`,
      "",
    );
    if (x.extismError) {
      lines.push(`Extism failed: \`${x.extismError.split("\n")[0]}\``, "");
    }
  }
  if (r.stores?.length) lines.push(...storeMarkdown(r.stores));
  if (r.micro?.length) {
    lines.push(
      "**Micro-benchmarks** (`deno bench`, time per iteration)",
      "",
      "| file | group | case | avg | p75 | p99 |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    const t = (ns: number) =>
      ns >= 1e6
        ? `${(ns / 1e6).toFixed(2)} ms`
        : ns >= 1e3
        ? `${(ns / 1e3).toFixed(1)} µs`
        : `${ns} ns`;
    for (const c of r.micro) {
      lines.push(
        `| ${c.file} | ${c.group ?? ""} | ${c.name} | ${t(c.avgNs)} | ${
          t(c.p75Ns)
        } | ${t(c.p99Ns)} |`,
      );
    }
    lines.push("");
  }
  lines.push(
    "Commands of this run:",
    "",
    "```sh",
    `deno task bench --seconds=${r.settings.seconds} --repeats=${r.settings.repeats} --connections=${r.settings.connections}`,
    `# the load: wrk ${
      wrkArgs({
        url: "<url>/events/bench/ping",
        body: "",
        connections: r.settings.connections,
        seconds: r.settings.seconds,
      }, "post.lua").join(" ")
    }`,
    `# micro: deno ${microArgs().join(" ")}`,
    "```",
  );
  return lines.join("\n");
}

const START = "<!-- results:start -->";
const END = "<!-- results:end -->";

/** Writes the table between the markers of BENCHMARKS.md (adds them when missing). */
export async function writeBenchmarksMd(r: Results, file: URL): Promise<void> {
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch { /* new */ }
  const block = `${START}\n\n${resultsMarkdown(r)}\n\n${END}`;
  const a = text.indexOf(START), b = text.indexOf(END);
  text = a >= 0 && b > a
    ? text.slice(0, a) + block + text.slice(b + END.length)
    : `# Benchmarks\n\n${block}\n${text}`;
  await Deno.writeTextFile(file, text);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      repeats: { type: "string", default: "3" },
      connections: { type: "string", default: "32" },
      only: {
        type: "string",
        default: "ingest,e2e,naive,executor,stores,micro",
      },
      out: { type: "string", default: "" },
    },
  });
  const seconds = Number(values.seconds);
  const repeats = Number(values.repeats);
  const connections = Number(values.connections);
  const only = new Set(values.only.split(","));
  const log = (msg: string) => console.error(`bench: ${msg}`);
  const results: Results = {
    machine: machine(),
    generator: await loadTool(),
    settings: { seconds, repeats, connections },
    targets: [],
  };
  if (only.has("ingest")) {
    log("ingest (bare Hono; platform on disk, on tmpfs, with executor)");
    results.ingest = await ingestBench({ seconds, connections, repeats });
    log(JSON.stringify(results.ingest.ratios));
  }
  if (only.has("e2e")) {
    log("end to end (platform)");
    results.endToEnd = await endToEndBench({
      seconds: seconds * 2,
      repeats: Math.min(repeats, 2),
      drainItems: 30_000,
    });
    log(JSON.stringify(results.endToEnd));
  }
  if (only.has("naive")) {
    log("end to end (naive: kv.enqueue / listenQueue)");
    results.naive = await endToEndBench({
      seconds: seconds * 2,
      repeats: 1,
      start: () => startNaiveServer(),
      deploy: () => Promise.resolve(),
    });
    log(JSON.stringify(results.naive));
  }
  if (only.has("executor")) {
    log("executor overhead");
    results.executor = await executorOverheadBench({ calls: 20_000, repeats });
    log(JSON.stringify(results.executor.ratios));
  }
  if (only.has("stores")) {
    log("stores: Deno KV and PostgreSQL, 1 and 2 executor processes");
    results.stores = await storeBench({ seconds, log });
  }
  if (only.has("micro")) {
    log("micro-benchmarks (deno bench)");
    results.micro = await microBench();
  }
  results.targets = targetsOf(results);
  const out = values.out
    ? new URL(values.out, `file://${Deno.cwd()}/`)
    : new URL("results.json", import.meta.url);
  await Deno.writeTextFile(out, JSON.stringify(results, null, 2) + "\n");
  if (!values.out) {
    const md = new URL("../BENCHMARKS.md", import.meta.url);
    await writeBenchmarksMd(results, md);
    // Both files are committed: keep `deno fmt --check` clean.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", md.pathname, out.pathname],
    }).output();
  }
  console.log(resultsMarkdown(results));
}
