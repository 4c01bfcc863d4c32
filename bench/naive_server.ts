/**
 * The naive design, as a reference: the same pipeline as the platform
 * (accept -> queue -> run the module -> record) built on Deno KV's own
 * queue, `kv.enqueue` + `kv.listenQueue`, in one process.
 *
 * - `POST /events/bench/ping`: bearer token, JSON body, every item checked
 *   with the same schema (compiled once), all items enqueued in one atomic
 *   write, 200 after the commit;
 * - `listenQueue`: each message runs the echo Jobicolet through the same
 *   JobicoletRunner / WasmPool (metered, sandbox Workers) and its record is
 *   written with a processed counter in one atomic (ExecutionStore, so the
 *   platform's SSE route serves the stream);
 * - `GET /api/v1/tenants/bench/queues/pings`: `{processed, depth, inFlight}`;
 * - `GET /api/v1/tenants/bench/executions/stream`: the recorder's SSE route.
 *
 * Run: deno run -A bench/naive_server.ts  (prints `{"url": ...}` when it
 * listens; the KV is a SQLite file in a temporary directory.)
 */
import { Hono } from "hono";
import { monotonicId, WasmPool, WriteBatch } from "@jobico/goico";
import { DEFAULT_LIMITS } from "../components/model/runtime_limits.ts";
import { JobicoletRunner } from "../components/executor/jobicolet_runner.ts";
import { compileSchema } from "../components/repo/compile_schema.ts";
import { ExecutionStore } from "../components/executions/execution_store.ts";
import { recorderApp } from "../components/executions/recorder_routes.ts";
import { ExecutionStreams } from "../components/executions/execution_streams.ts";
import { compileWat } from "../tests/jobicolets/compile_wat.ts";
import { EVENT, SCHEMA, TENANT } from "./_bench_package.ts";
import { BENCH_TOKEN } from "./_processes.ts";

interface Message {
  eventId: string;
  data: unknown;
}

const dir = await Deno.makeTempDir({ prefix: "jobico-naive-" });
const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
const validate = compileSchema(
  "ping.schema.json",
  new TextEncoder().encode(JSON.stringify(SCHEMA)),
);
const wasm = await compileWat("echo");
const pool = new WasmPool();
const runner = new JobicoletRunner(() => Promise.resolve(wasm), { pool });
const executions = new ExecutionStore(kv);
const encoder = new TextEncoder();
const PROCESSED = ["naive", "processed"];
const ENQUEUED = ["naive", "enqueued"];
const shutdown = new AbortController();

const app = new Hono();
app.post(`/events/${TENANT}/${EVENT}`, async (c) => {
  if (c.req.header("authorization") !== `Bearer ${BENCH_TOKEN}`) {
    return c.json({ title: "Unauthorized" }, 401);
  }
  const body = await c.req.json<{ data?: unknown[] }>();
  const data = body?.data;
  if (!Array.isArray(data) || data.length === 0 || data.length > 500) {
    return c.json({ title: "Invalid request" }, 400);
  }
  for (const item of data) {
    if (!validate(item)) return c.json({ title: "Invalid item" }, 400);
  }
  const ids = data.map(() => monotonicId());
  const op = kv.atomic();
  data.forEach((d, i) =>
    op.enqueue({ eventId: ids[i], data: d } satisfies Message)
  );
  op.sum(ENQUEUED, BigInt(data.length));
  if (!(await op.commit()).ok) throw new Error("enqueue failed");
  return c.json({ accepted: ids.length, ids });
});
app.get(`/api/v1/tenants/${TENANT}/queues/pings`, async (c) => {
  const [p, e] = await kv.getMany<Deno.KvU64[]>([PROCESSED, ENQUEUED]);
  const processed = Number(p.value?.value ?? 0n);
  const enqueued = Number(e.value?.value ?? 0n);
  return c.json({ processed, depth: enqueued - processed, inFlight: 0 });
});
app.route(
  "/",
  recorderApp(executions, new ExecutionStreams(executions, shutdown.signal)),
);

kv.listenQueue(async (msg: Message) => {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const r = await runner.run(
    "bench",
    "echo",
    "event",
    encoder.encode(JSON.stringify(msg.data)),
    {
      timeoutMs: DEFAULT_LIMITS.timeoutMs,
      memoryMb: DEFAULT_LIMITS.memoryMb,
      fuel: DEFAULT_LIMITS.fuel,
      outputKb: DEFAULT_LIMITS.outputKb,
    },
  );
  const exec = executions.fit({
    id: monotonicId(),
    eventId: msg.eventId,
    tenant: TENANT,
    package: "bench",
    event: EVENT,
    queue: "pings",
    status: r.status,
    code: r.code,
    result: r.result,
    error: r.error,
    logs: r.logs,
    attempt: 1,
    startedAt,
    durationMs: performance.now() - started,
  });
  const op = new WriteBatch(kv);
  executions.record(op, exec);
  op.sum(PROCESSED, 1n);
  await op.commit();
});

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) =>
    console.log(JSON.stringify({ url: `http://${hostname}:${port}` })),
}, app.fetch);

Deno.addSignalListener("SIGTERM", async () => {
  shutdown.abort();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  Deno.exit(0);
});
