/**
 * The listener's own cost per request without the network: the platform's
 * app (only the listener, as `JOBICO_COMPONENTS=ctl,repo,listener`) called
 * with `app.fetch` by `connections` concurrent senders of single-item
 * requests to the greet example, its KV a SQLite file (on /dev/shm when
 * there is one). The main thread runs the JavaScript, the KV's SQLite
 * thread the commits. Reports, per request, the wall time and the main
 * thread's CPU time (from /proc: steadier on a shared machine). The
 * admin token authenticates, as bench/ingest.ts does.
 *
 *   deno run -A bench/listener_inproc.ts [--requests=30000] [--rounds=3]
 *     [--connections=32] [--items=1]
 *
 * Compares builds of the listener's code quickly (no HTTP I/O in the
 * figure, which the HTTP benchmarks include; the senders' own Requests are
 * in it, the same for every build); prints µs per request of each round
 * and their medians.
 */
import { parseArgs } from "node:util";
import { createPlatform } from "../components/platform.ts";
import {
  examples,
  uploadGreetFiles,
} from "../components/server/_test_platform.ts";
import { makeScratchDir } from "./_data_dir.ts";
import { median } from "./_median.ts";
import { mainThreadSecs } from "./_thread_cpu.ts";

const ADMIN = "bench-admin-token-0123456789abcdef";

/** The main thread's CPU time so far, in µs (NaN where /proc cannot say). */
async function mainThreadCpuUs(): Promise<number> {
  const secs = await mainThreadSecs(Deno.pid);
  return secs === null ? NaN : secs * 1e6;
}

/**
 * Per round, µs per request: of wall time, and of the main thread's CPU
 * (steadier on a shared machine), over `requests` requests.
 */
export async function listenerInproc(o: {
  requests: number;
  connections: number;
  items: number;
  rounds: number;
}): Promise<{ wall: number[]; cpu: number[] }> {
  const dir = await makeScratchDir();
  const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
  const ctrl = new AbortController();
  const parts = createPlatform({
    kv,
    adminToken: ADMIN,
    components: ["ctl", "repo", "listener"],
    maxQueueDepth: 1_000_000_000,
  }, ctrl.signal);
  try {
    await uploadGreetFiles(parts);
    await parts.store.deploy(
      await Deno.readTextFile(new URL("job.yaml", examples)),
    );
    const body = JSON.stringify({
      data: Array.from({ length: o.items }, (_, i) => ({ name: `Ada ${i}` })),
    });
    const length = new TextEncoder().encode(body).length;
    const send = async () => {
      const res = await parts.app.fetch(
        new Request("http://localhost/events/demo/greet", {
          method: "POST",
          body,
          headers: {
            authorization: `Bearer ${ADMIN}`,
            "content-type": "application/json",
            // As an HTTP client sends it: the body is read whole.
            "content-length": String(length),
          },
        }),
      );
      if (res.status !== 200) {
        throw new Error(`${res.status}: ${await res.text()}`);
      }
      await res.arrayBuffer();
    };
    const wall: number[] = [];
    const cpu: number[] = [];
    // A warm-up, then the rounds.
    for (let r = -1; r < o.rounds; r++) {
      const n = r < 0 ? Math.min(2_000, o.requests) : o.requests;
      let sent = 0;
      const c0 = await mainThreadCpuUs();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: o.connections }, async () => {
          while (sent < n) {
            sent++;
            await send();
          }
        }),
      );
      const t1 = performance.now();
      const c1 = await mainThreadCpuUs();
      if (r >= 0) {
        wall.push(Math.round((t1 - t0) * 10_000 / n) / 10);
        cpu.push(Math.round((c1 - c0) * 10 / n) / 10);
      }
    }
    return { wall, cpu };
  } finally {
    ctrl.abort();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      requests: { type: "string", default: "30000" },
      rounds: { type: "string", default: "3" },
      connections: { type: "string", default: "32" },
      items: { type: "string", default: "1" },
    },
  });
  const us = await listenerInproc({
    requests: Number(values.requests),
    rounds: Number(values.rounds),
    connections: Number(values.connections),
    items: Number(values.items),
  });
  console.log(JSON.stringify({
    wallUs: us.wall,
    cpuUs: us.cpu,
    medianWallUs: Math.round(median(us.wall) * 100) / 100,
    medianCpuUs: Math.round(median(us.cpu) * 100) / 100,
  }));
}
