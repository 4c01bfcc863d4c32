/**
 * A poison event that kills the process running it (here: the server is
 * SIGKILLed while the event runs, as the OOM killer would) must not come
 * back forever. The server runs in its own process on a data directory; it
 * is killed each time the event runs, restarted, and killed again. After
 * `retries` + 1 deliveries that ran, the event is in its queue's dead
 * letters with a failed execution saying why, and the event queued behind
 * it (leased beside it each time, never run) is not blamed: it runs once.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { type SpawnedServer, spawnServer } from "./_spawn_server.ts";
import { authFetch } from "./_auth_fetch.ts";
import type { Execution } from "../components/executions/execution.ts";

const TOKEN = "crash-loop-admin-token";
const RETRIES = 2;

const PACKAGE = `
id: loop
tenant: cl
queues: [{id: work}]
jobs:
  - event: {id: poison, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: nap}
  - event: {id: echo, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: echo}
runtimes:
  - {id: nap, moduleref: nap.wasm, retries: ${RETRIES}, limits: {timeoutms: 30000}}
  - {id: echo, moduleref: echo.wasm}
`;

const start = (data: string) =>
  spawnServer(RUN_MAIN, {
    JOBICO_DATA: data,
    JOBICO_ADMIN_TOKEN: TOKEN,
    JOBICO_LOG_LEVEL: "info",
    JOBICO_WORKERS: "2",
    // A short lease: a killed process's events come back within a second.
    JOBICO_LEASE_MS: "1000",
  });

async function json(
  api: (path: string) => Promise<Response>,
  path: string,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const res = await api(path);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return await res.json();
}

/**
 * Waits until the poison event is running (a sandbox Worker busy for
 * 300 ms on end: the echo event takes milliseconds) or is dead-lettered.
 */
async function runningOrDead(
  server: SpawnedServer,
): Promise<"running" | "dead"> {
  const api = authFetch(server.url, TOKEN);
  const deadline = Date.now() + 20_000;
  let busySince: number | null = null;
  while (Date.now() < deadline) {
    const dead = await json(api, "/api/v1/tenants/cl/queues/work/dead");
    if (dead.dead.length > 0) return "dead";
    const meta = await json(api, "/meta");
    if (meta.sandbox.busy > 0) {
      busySince ??= Date.now();
      if (Date.now() - busySince >= 300) return "running";
    } else busySince = null;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("The poison event neither ran nor was dead-lettered");
}

Deno.test("an event that kills its process every time ends in the dead letters after retries + 1 deliveries", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-crash-loop-" });
  const t0 = Date.now();
  let server = await start(data);
  try {
    const api = () => authFetch(server.url, TOKEN);
    for (const name of ["nap", "echo"]) {
      const res = await api()(`/api/v1/tenants/cl/files/${name}.wasm`, {
        method: "PUT",
        body: await compileWat(name) as Uint8Array<ArrayBuffer>,
      });
      assert.equal(res.status, 201, await res.text());
    }
    await (await api()("/api/v1/tenants/cl/files/any.json", {
      method: "PUT",
      body: "{}",
    })).body?.cancel();
    const deployed = await api()("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: PACKAGE,
    });
    assert.equal(deployed.status, 201, await deployed.text());
    const send = async (event: string, item: unknown) => {
      const res = await api()(`/events/cl/${event}`, {
        method: "POST",
        body: JSON.stringify({ data: [item] }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()).ids[0] as string;
    };
    // It would sleep 20 s; it is killed long before.
    const poison = await send("poison", 20_000);
    const innocent = await send("echo", { n: 1 });

    let kills = 0;
    while ((await runningOrDead(server)) === "running") {
      assert.ok(kills <= RETRIES, `killed ${kills + 1} times`);
      await server.kill();
      kills++;
      server = await start(data);
    }
    assert.equal(
      kills,
      RETRIES + 1,
      "deliveries that ran before the dead letter",
    );

    const dead = (await json(api(), "/api/v1/tenants/cl/queues/work/dead"))
      .dead;
    assert.equal(dead.length, 1);
    assert.equal(dead[0].eventId, poison);
    const why =
      "Not run again: the process running this event stopped 3 times while it ran (3 failed attempts; 2 retries allowed)";
    assert.equal(dead[0].error, why);
    // The innocent event runs once, after the poison one is out of the way.
    let execs: Execution[] = [];
    const deadline = Date.now() + 20_000;
    while (!execs.some((e) => e.eventId === innocent)) {
      assert.ok(Date.now() < deadline, "the event behind never ran");
      await new Promise((r) => setTimeout(r, 50));
      execs = (await json(api(), "/api/v1/tenants/cl/executions")).executions;
    }
    const of = (id: string) => execs.filter((e) => e.eventId === id);
    assert.deepEqual(of(innocent).map((e) => e.status), ["ok"]);
    // One record for the poison event: the failure that dead-lettered it.
    const [record, ...more] = of(poison);
    assert.deepEqual(more, []);
    assert.equal(record.status, "failed");
    assert.equal(record.error, why);
    assert.equal(record.attempt, RETRIES + 2);
    assert.equal(dead[0].executionId, record.id);
    assert.deepEqual(
      record.logs.filter((l) => l.source === "host").map((l) => l.message),
      [
        'Moved to the dead letters of queue "work" after 3 failed attempts (3 of them stopped the process running it)',
      ],
    );
    const stats = await json(api(), "/api/v1/tenants/cl/queues/work");
    assert.deepEqual(
      [stats.depth, stats.inFlight, stats.delayed, stats.dead],
      [0, 0, 0, 1],
    );
    console.log(
      `crash loop: ${kills} kills, dead-lettered ${
        Date.now() - t0
      } ms after the first start`,
    );
  } finally {
    await server.kill().catch(() => {});
    await Deno.remove(data, { recursive: true });
  }
});
