/**
 * What bounding connections costs: the bare Hono ingest app
 * (bench/bare_hono.ts's route) behind each front of bench/_http_front.ts
 * (plain Deno.serve, goico's serveGuarded, a byte-copying proxy to
 * Deno.serve, node:http), driven by the same load generator one after the
 * other, `rounds` times in turn; each figure is the median of its rounds,
 * each ratio is against plain Deno.serve in the same run. Beside the
 * throughput, the server's CPU time per request, which other load on the
 * machine disturbs less.
 *
 * Two loads: `keepAlive` (single-item POSTs over `connections` keep-alive
 * connections, the ingest case) and `perRequest` (a new connection for
 * each request: `connection: close`).
 *
 * Run: deno run -A bench/connection_guard_cost.ts [--seconds 5] [--rounds 3] [--connections 50] [--fronts deno-serve,guarded]
 * Prints one JSON object.
 */
import { eventBody } from "./_bench_package.ts";
import { FRONTS } from "./_http_front.ts";
import { loadTool, runLoad } from "./_load.ts";
import { machine } from "./_machine.ts";
import { startScript } from "./_processes.ts";

export interface FrontFigures {
  /** requests/s, the median of the rounds */
  keepAlive: number;
  perRequest: number;
  /** the server's CPU time (user + system) per request, µs, the median of the rounds */
  cpuUsKeepAlive: number;
  cpuUsPerRequest: number;
  p99MsKeepAlive: number;
  /** against deno-serve in the same run */
  ratioKeepAlive: number;
  ratioPerRequest: number;
}

export interface GuardCostOptions {
  seconds: number;
  rounds: number;
  connections: number;
  fronts: readonly string[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** CPU time (user + system) a process has used, in ms (Linux: /proc/<pid>/stat). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 (1-based), in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function connectionGuardCost(
  options: GuardCostOptions,
): Promise<Record<string, unknown>> {
  const fronts = options.fronts.includes("deno-serve")
    ? options.fronts
    : ["deno-serve", ...options.fronts];
  const runs: Record<
    string,
    {
      keepAlive: number[];
      perRequest: number[];
      p99: number[];
      cpuKeepAlive: number[];
      cpuPerRequest: number[];
    }
  > = {};
  for (const f of fronts) {
    runs[f] = {
      keepAlive: [],
      perRequest: [],
      p99: [],
      cpuKeepAlive: [],
      cpuPerRequest: [],
    };
  }
  const body = eventBody(1);
  for (let round = 0; round < options.rounds; round++) {
    for (const front of fronts) {
      const server = await startScript("_http_front.ts", ["-A"], [front]);
      try {
        const url = `${server.url}/events/bench/ping`;
        // Warm up (JIT), then measure.
        await runLoad({
          url,
          body,
          connections: options.connections,
          seconds: 1,
        });
        let cpu = await cpuMs(server.pid);
        const ka = await runLoad({
          url,
          body,
          connections: options.connections,
          seconds: options.seconds,
        });
        const cpuKa = (await cpuMs(server.pid) - cpu) * 1000 / ka.requests;
        cpu = await cpuMs(server.pid);
        const pr = await runLoad({
          url,
          body,
          headers: { connection: "close" },
          connections: options.connections,
          seconds: options.seconds,
        });
        const cpuPr = (await cpuMs(server.pid) - cpu) * 1000 / pr.requests;
        runs[front].keepAlive.push(ka.rps);
        runs[front].perRequest.push(pr.rps);
        runs[front].p99.push(ka.p99Ms);
        runs[front].cpuKeepAlive.push(cpuKa);
        runs[front].cpuPerRequest.push(cpuPr);
        console.error(
          `round ${round + 1} ${front}: keep-alive ${Math.round(ka.rps)}/s ` +
            `(${cpuKa.toFixed(1)} µs CPU each), new connection each ` +
            `${Math.round(pr.rps)}/s (${cpuPr.toFixed(1)} µs CPU each)`,
        );
      } finally {
        await server.stop();
      }
    }
  }
  const base = runs["deno-serve"];
  const figures: Record<string, FrontFigures> = {};
  for (const f of fronts) {
    const r = runs[f];
    figures[f] = {
      keepAlive: Math.round(median(r.keepAlive)),
      perRequest: Math.round(median(r.perRequest)),
      cpuUsKeepAlive: Math.round(median(r.cpuKeepAlive) * 10) / 10,
      cpuUsPerRequest: Math.round(median(r.cpuPerRequest) * 10) / 10,
      p99MsKeepAlive: Math.round(median(r.p99) * 100) / 100,
      ratioKeepAlive: Math.round(
        median(r.keepAlive) / median(base.keepAlive) * 1000,
      ) / 1000,
      ratioPerRequest: Math.round(
        median(r.perRequest) / median(base.perRequest) * 1000,
      ) / 1000,
    };
  }
  return {
    machine: machine(),
    generator: await loadTool(),
    ...options,
    fronts: figures,
    runs,
  };
}

if (import.meta.main) {
  const arg = (name: string, fallback: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : fallback;
  };
  const result = await connectionGuardCost({
    seconds: Number(arg("--seconds", "5")),
    rounds: Number(arg("--rounds", "3")),
    connections: Number(arg("--connections", "50")),
    fronts: arg("--fronts", FRONTS.join(",")).split(","),
  });
  console.log(JSON.stringify(result, null, 2));
}
