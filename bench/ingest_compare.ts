/**
 * Two or more builds of the platform side by side: each round runs every
 * build once, one after the other (so the machine's load falls on all of
 * them alike), first without the profiler (the rate, CPU per request by
 * thread, the commit wait), then with it (the main isolate's CPU per
 * request by purpose); the table shows each figure's median over the rounds.
 *
 *   git archive <commit> | tar -x -C /tmp/builds/<name>   # a build to compare
 *   deno run -A bench/ingest_compare.ts --build=before=/tmp/builds/base \
 *     --build=after=. [--rounds=3] [--seconds=5] [--items=1] [--data=disk|tmpfs]
 *     [--components=ctl,repo,listener] [--no-profile] [--auth=admin|tenant|signed]
 *     [--idempotency]
 *
 * A build is `name=DIR` (DIR holds main.ts and deno.json; `.` is this one),
 * optionally with settings of its own: `name=DIR?JOBICO_LOG_LEVEL=warn&K=V`,
 * its own data directory: `name=DIR?data=tmpfs`, and an Idempotency-Key of
 * its own on every request: `name=DIR?idempotency=1` (`--idempotency`: on
 * every build's requests; ingest_breakdown.ts), or the same key on every
 * request, a retry storm: `name=DIR?idempotency=same`.
 */
import { parseArgs } from "node:util";
import { CATEGORIES, type Category } from "./_breakdown.ts";
import type { DataOn } from "./_data_dir.ts";
import {
  breakdownMarkdown,
  type IngestBreakdown,
  ingestBreakdown,
} from "./ingest_breakdown.ts";
import { median } from "./_median.ts";

export interface CompareOptions {
  builds: {
    name: string;
    root: string;
    env?: Record<string, string>;
    data?: DataOn;
    idempotency?: boolean | "same";
  }[];
  rounds: number;
  seconds: number;
  connections: number;
  items: number;
  data: DataOn;
  components: string;
  profile: boolean;
  env?: Record<string, string>;
  /** Whose token the requests carry, or signed (ingest_breakdown.ts). Default admin. */
  auth?: "admin" | "tenant" | "signed";
  /** Every request an Idempotency-Key of its own (ingest_breakdown.ts). */
  idempotency?: boolean;
}

/** The median of each figure over runs of one build. */
export function medianBreakdown(runs: IngestBreakdown[]): IngestBreakdown {
  const m = (f: (r: IngestBreakdown) => number | undefined) =>
    median(runs.map((r) => f(r) ?? NaN));
  const r1 = (x: number) => Math.round(x * 10) / 10;
  // A mean of two middle values: no float tails in the table.
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const mainUs: Partial<Record<Category, number>> = {};
  for (const c of CATEGORIES) {
    const v = m((r) => r.mainUs[c]);
    if (Number.isFinite(v)) mainUs[c] = r1(v);
  }
  const threads = runs.every((r) => r.threads)
    ? {
      main: r1(m((r) => r.threads!.main)),
      kv: r1(m((r) => r.threads!.kv)),
      sandbox: r1(m((r) => r.threads!.sandbox)),
      other: r1(m((r) => r.threads!.other)),
      total: r1(m((r) => r.threads!.total)),
    }
    : null;
  const commit = runs.every((r) => r.commit)
    ? {
      waitMs: r3(m((r) => r.commit!.waitMs)),
      commitMs: r3(m((r) => r.commit!.commitMs)),
      requestsPerCommit: r3(m((r) => r.commit!.requestsPerCommit)),
      ...(runs.every((r) => r.commit!.keysPerRead !== undefined) && {
        keysPerRead: r3(m((r) => r.commit!.keysPerRead!)),
      }),
    }
    : null;
  return {
    rps: Math.round(m((r) => r.rps)),
    p50Ms: r3(m((r) => r.p50Ms)),
    p99Ms: r3(m((r) => r.p99Ms)),
    threads,
    idle: m((r) => r.idle),
    mainBusy: runs.every((r) => r.mainBusy !== null)
      ? m((r) => r.mainBusy!)
      : null,
    mainUs,
    commit,
  };
}

export async function compareBuilds(o: CompareOptions): Promise<{
  plain: Map<string, IngestBreakdown[]>;
  profiled: Map<string, IngestBreakdown[]>;
}> {
  const plain = new Map(o.builds.map((b) => [b.name, [] as IngestBreakdown[]]));
  const profiled = new Map(
    o.builds.map((b) => [b.name, [] as IngestBreakdown[]]),
  );
  for (let round = 0; round < o.rounds; round++) {
    for (const profile of o.profile ? [false, true] : [false]) {
      for (const b of o.builds) {
        const r = await ingestBreakdown({
          seconds: o.seconds,
          connections: o.connections,
          items: o.items,
          data: b.data ?? o.data,
          components: o.components,
          root: b.root,
          profile,
          auth: o.auth,
          idempotency: b.idempotency ?? o.idempotency,
          env: { ...o.env, ...b.env },
        });
        (profile ? profiled : plain).get(b.name)!.push(r);
        console.error(
          `round ${round + 1}, ${b.name}${profile ? ", profiled" : ""}: ${
            r.rps.toLocaleString("en")
          } req/s, main ${r.threads?.main} µs/req`,
        );
      }
    }
  }
  return { plain, profiled };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      build: { type: "string", multiple: true, default: [] },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "5" },
      connections: { type: "string", default: "32" },
      items: { type: "string", default: "1" },
      data: { type: "string", default: "disk" },
      components: { type: "string", default: "ctl,repo,listener" },
      "no-profile": { type: "boolean", default: false },
      env: { type: "string", multiple: true, default: [] },
      auth: { type: "string", default: "admin" },
      idempotency: { type: "boolean", default: false },
    },
  });
  const builds = values.build.map((b) => {
    const at = b.indexOf("=");
    const [root, query] = b.slice(at + 1).split("?");
    const { data, idempotency, ...env } = Object.fromEntries(
      new URLSearchParams(query ?? ""),
    );
    return {
      name: b.slice(0, at),
      root: root === "." ? new URL("../", import.meta.url).pathname : root,
      env,
      data: data as DataOn | undefined,
      ...(idempotency !== undefined && {
        idempotency: idempotency === "same"
          ? "same" as const
          : idempotency === "1",
      }),
    };
  });
  if (builds.length === 0) {
    console.error("Give at least one --build=name=DIR");
    Deno.exit(2);
  }
  const o: CompareOptions = {
    builds,
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    items: Number(values.items),
    data: values.data as DataOn,
    components: values.components,
    profile: !values["no-profile"],
    auth: values.auth as "admin" | "tenant" | "signed",
    idempotency: values.idempotency,
    env: Object.fromEntries(
      values.env.map((
        kv,
      ) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    ),
  };
  const { plain, profiled } = await compareBuilds(o);
  // Rates, threads and commits from the runs without the profiler; the
  // split by purpose from the profiled runs.
  const rows = builds.map((b) => {
    const p = medianBreakdown(plain.get(b.name)!);
    const q = o.profile ? medianBreakdown(profiled.get(b.name)!) : undefined;
    return {
      name: b.name,
      r: { ...p, idle: q?.idle ?? NaN, mainUs: q?.mainUs ?? {} },
    };
  });
  console.log(
    `${o.items}-item requests, ${o.components}, data on ${o.data}, ${o.connections} connections, ${o.seconds} s, median of ${o.rounds} rounds\n`,
  );
  console.log(breakdownMarkdown(rows));
}
