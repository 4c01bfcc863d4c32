/**
 * Abusive clients against the platform, on loopback only and bounded: for
 * each scenario, a fresh platform process (main.ts as `deno task dev` runs
 * it, under `--fd-limit` file descriptors), a well-behaved client's ingest
 * rate and the server's RSS (VmRSS of /proc/<pid>/status) before the
 * abuse (the baseline, same run), during it, and after it stops.
 *
 * Scenarios (add one by appending to SCENARIOS):
 * - `idle-sockets`: N TCP connections that send nothing, each opened again
 *   when the server closes it;
 * - `slow-headers`: N clients that send the start of a request and then
 *   one header byte a second, each starting again when cut;
 * - `sse-idle-streams`: N clients that open the tenant's execution stream
 *   and never read it, while the well-behaved client's events are executed
 *   and streamed (every component runs for this one). bench/sse_streams.ts
 *   measures streams that read, and the resume.
 *
 * The well-behaved client is wrk (or bench/load_gen.ts): single-item POSTs
 * of the bench package's event over `--connections` keep-alive
 * connections. The platform runs ctl, repo and listener (pure ingest,
 * like bench/ingest.ts).
 *
 * Run: deno run -A bench/abuse.ts [--clients 3000] [--seconds 5] [--fd-limit 1024] [--connections 32] [--scenarios idle-sockets,slow-headers]
 * Prints one JSON object.
 */
import {
  deployBenchPackage,
  EVENT,
  eventBody,
  TENANT,
} from "./_bench_package.ts";
import { loadTool, runLoad } from "./_load.ts";
import { machine } from "./_machine.ts";
import { BENCH_TOKEN, startPlatformProcess } from "./_processes.ts";

/** The most abusive clients a scenario may open (the script is bounded). */
export const MAX_CLIENTS = 5000;

export interface AbuseTarget {
  /** The platform's URL (loopback). */
  url: string;
  /** The admin token. */
  token: string;
  /** Abusive clients to run. */
  clients: number;
}

/** A running abuse: its counters, and how to end it. */
export interface Abuse {
  /** True once it has reached full strength (e.g. every client connected once). */
  ready(): boolean;
  counters(): Record<string, number>;
  stop(): Promise<void>;
}

export interface Scenario {
  name: string;
  description: string;
  /** The components the platform runs for it. Default `ctl,repo,listener`. */
  components?: string;
  start(target: AbuseTarget): Abuse;
}

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hostPort(url: string) {
  const u = new URL(url);
  const hostname = u.hostname.replace(/^\[|\]$/g, "");
  if (!["127.0.0.1", "localhost", "::1"].includes(hostname)) {
    throw new Error(`bench/abuse.ts only runs against loopback, not ${url}`);
  }
  return { hostname, port: Number(u.port) };
}

/**
 * `clients` loops that each connect, run `session` on the connection until
 * it fails or the abuse stops, and connect again after `againMs`.
 */
function connectionLoops(
  url: string,
  clients: number,
  session: (conn: Deno.Conn, stopped: () => boolean) => Promise<void>,
  againMs = 100,
): Abuse {
  const addr = hostPort(url);
  let stopping = false;
  const c = { connects: 0, refused: 0, cut: 0 };
  const open = new Set<Deno.Conn>();
  const loop = async () => {
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect(addr);
      } catch {
        c.refused++;
        await sleep(againMs);
        continue;
      }
      c.connects++;
      open.add(conn);
      try {
        await session(conn, () => stopping);
      } catch { /* cut by the server */ }
      if (!stopping) c.cut++;
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
      await sleep(againMs);
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    ready: () => c.connects >= clients,
    counters: () => ({ ...c, open: open.size }),
    stop: async () => {
      stopping = true;
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await Promise.all(loops);
    },
  };
}

/** Waits until `conn` is closed by the server or `stopped()`. */
async function untilClosed(conn: Deno.Conn, stopped: () => boolean) {
  const buf = new Uint8Array(1024);
  while (!stopped()) {
    if (await conn.read(buf) === null) return;
  }
}

export const SCENARIOS: Scenario[] = [
  {
    name: "idle-sockets",
    description:
      "TCP connections that send nothing, each opened again when the server closes it",
    start: ({ url, clients }) =>
      connectionLoops(
        url,
        clients,
        (conn, stopped) => untilClosed(conn, stopped),
      ),
  },
  {
    name: "slow-headers",
    description:
      "clients that send a request line and then one header byte a second, each starting again when cut",
    start: ({ url, clients }) =>
      connectionLoops(url, clients, async (conn, stopped) => {
        const closed = untilClosed(conn, stopped);
        let open = true;
        closed.finally(() => (open = false)).catch(() => {});
        await conn.write(
          enc.encode(`POST /events/${TENANT}/${EVENT} HTTP/1.1\r\nx-slow: `),
        );
        while (open && !stopped()) {
          await Promise.race([sleep(1000), closed]);
          if (open && !stopped()) await conn.write(enc.encode("a"));
        }
        await closed;
      }),
  },
  {
    name: "sse-idle-streams",
    description:
      "clients that open the tenant's execution stream and never read it, while events are executed and streamed",
    components: "ctl,repo,listener,executor,recorder",
    start: ({ url, clients, token }) => {
      const { hostname, port } = hostPort(url);
      let stopping = false;
      const c = { opened: 0, refused: 0 };
      const open: Deno.Conn[] = [];
      const opening = (async () => {
        for (let i = 0; i < clients && !stopping; i++) {
          try {
            const conn = await Deno.connect({ hostname, port });
            await conn.write(enc.encode(
              `GET /api/v1/tenants/${TENANT}/executions/stream HTTP/1.1\r\n` +
                `host: ${hostname}\r\nauthorization: Bearer ${token}\r\n` +
                `accept: text/event-stream\r\n\r\n`,
            ));
            open.push(conn); // and never read
            c.opened++;
          } catch {
            c.refused++;
          }
        }
      })();
      return {
        ready: () => c.opened + c.refused >= clients,
        counters: () => ({ ...c }),
        stop: async () => {
          stopping = true;
          await opening;
          for (const conn of open) {
            try {
              conn.close();
            } catch { /* closed */ }
          }
        },
      };
    },
  },
];

/** VmRSS in KiB; NaN once the process is gone. */
async function rssKb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** CPU time (user + system) a process has used, in ms (/proc/<pid>/stat); NaN once it is gone. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (!stat) return NaN;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function alive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

export interface Phase {
  /** well-behaved single-item ingest, requests/s answered 200 */
  ingestRps: number;
  non2xx: number;
  errors: number;
  p99Ms: number;
  rssMb: number;
  /** CPU the server used, % of one core */
  serverCpu: number;
  /** CPU this script used (the abusive clients), % of one core */
  abuseCpu: number;
  /**
   * The server's CPU time per well-behaved request, µs (all of it: with
   * the abuse, what serving the abusive clients costs is in it). On this
   * shared machine the scheduler bounds the server's share of a core, so
   * this tells more than the rate.
   */
  serverCpuUsPerIngest: number;
}

/** A phase the server did not live through. */
const GONE: Phase = {
  ingestRps: 0,
  non2xx: 0,
  errors: 0,
  p99Ms: NaN,
  rssMb: NaN,
  serverCpu: NaN,
  abuseCpu: NaN,
  serverCpuUsPerIngest: NaN,
};

export interface ScenarioResult {
  scenario: string;
  description: string;
  clients: number;
  baseline: Phase;
  during: Phase & { abuse: Record<string, number> };
  after: Phase;
  /** during / baseline */
  ingestRatio: number;
  rssGrowthMb: number;
  survived: boolean;
}

export interface AbuseOptions {
  clients: number;
  seconds: number;
  fdLimit: number;
  connections: number;
  scenarios: string[];
}

export async function abuseBench(
  options: AbuseOptions,
): Promise<Record<string, unknown>> {
  if (options.clients > MAX_CLIENTS) {
    throw new Error(
      `At most ${MAX_CLIENTS} clients (asked ${options.clients})`,
    );
  }
  const results: ScenarioResult[] = [];
  for (const name of options.scenarios) {
    const scenario = SCENARIOS.find((s) => s.name === name);
    if (!scenario) {
      throw new Error(
        `Unknown scenario "${name}": use ${
          SCENARIOS.map((s) => s.name).join(", ")
        }`,
      );
    }
    const server = await startPlatformProcess({
      components: scenario.components ?? "ctl,repo,listener",
      env: { JOBICO_MAX_QUEUE_DEPTH: "1000000000" },
      fdLimit: options.fdLimit,
    });
    try {
      await deployBenchPackage(server.url, BENCH_TOKEN);
      const url = `${server.url}/events/${TENANT}/${EVENT}`;
      const measure = async (): Promise<Phase> => {
        const began = performance.now();
        const [server0, self0] = [
          await cpuMs(server.pid),
          await cpuMs(Deno.pid),
        ];
        const r = await runLoad({
          url,
          body: eventBody(1),
          headers: { authorization: `Bearer ${BENCH_TOKEN}` },
          connections: options.connections,
          seconds: options.seconds,
        }).catch((err) => {
          console.error(`${name}: the well-behaved client failed: ${err}`);
          return undefined;
        });
        if (!r) return { ...GONE };
        const serverMs = await cpuMs(server.pid) - server0;
        return {
          ingestRps: Math.round(r.rps),
          non2xx: r.non2xx,
          errors: r.errors,
          p99Ms: Math.round(r.p99Ms * 10) / 10,
          rssMb: Math.round(await rssKb(server.pid) / 102.4) / 10,
          serverCpu: pct(serverMs),
          abuseCpu: pct(await cpuMs(Deno.pid) - self0),
          serverCpuUsPerIngest: Math.round(
            serverMs * 1000 / (r.requests - r.non2xx),
          ),
        };
        function pct(ms: number) {
          return Math.round(ms / (performance.now() - began) * 100);
        }
      };
      await runLoad({
        url,
        body: eventBody(1),
        headers: { authorization: `Bearer ${BENCH_TOKEN}` },
        connections: options.connections,
        seconds: 1,
      }); // warm-up
      const baseline = await measure();
      const abuse = scenario.start({
        url: server.url,
        token: BENCH_TOKEN,
        clients: options.clients,
      });
      let during: ScenarioResult["during"];
      try {
        const deadline = Date.now() + 60_000;
        while (!abuse.ready() && Date.now() < deadline) await sleep(50);
        const m = await measure();
        during = { ...m, abuse: abuse.counters() };
      } finally {
        await abuse.stop();
      }
      const survived = await alive(server.pid);
      const after = survived ? await measure() : { ...GONE };
      const result: ScenarioResult = {
        scenario: scenario.name,
        description: scenario.description,
        clients: options.clients,
        baseline,
        during,
        after,
        ingestRatio: Math.round(during.ingestRps / baseline.ingestRps * 1000) /
          1000,
        rssGrowthMb: Math.round((during.rssMb - baseline.rssMb) * 10) / 10,
        survived,
      };
      results.push(result);
      console.error(
        `${scenario.name}: ingest ${baseline.ingestRps}/s -> ${during.ingestRps}/s ` +
          `(x${result.ingestRatio}), RSS ${baseline.rssMb} -> ${during.rssMb} MB, ` +
          `server CPU ${baseline.serverCpu}% -> ${during.serverCpu}% ` +
          `(${baseline.serverCpuUsPerIngest} -> ${during.serverCpuUsPerIngest} µs per ingest), ` +
          `clients' CPU ${during.abuseCpu}%, ` +
          `abuse ${JSON.stringify(during.abuse)}, survived ${survived}`,
      );
    } finally {
      await server.stop();
    }
  }
  return {
    machine: machine(),
    generator: await loadTool(),
    ...options,
    results,
  };
}

if (import.meta.main) {
  const arg = (name: string, fallback: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : fallback;
  };
  const result = await abuseBench({
    clients: Number(arg("--clients", "3000")),
    seconds: Number(arg("--seconds", "5")),
    fdLimit: Number(arg("--fd-limit", "1024")),
    connections: Number(arg("--connections", "32")),
    scenarios: arg("--scenarios", SCENARIOS.map((s) => s.name).join(","))
      .split(","),
  });
  console.log(JSON.stringify(result, null, 2));
}
