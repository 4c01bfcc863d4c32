/**
 * An acknowledgement checks that its lease is still held. Two servers
 * share a data directory; one is paused with SIGSTOP while it runs an
 * event, for longer than its lease, under a stream of other events. The
 * other server takes the paused one's leases over and runs the events.
 * When the paused server resumes, its run of the event finishes, but its
 * outcomes are refused: every event has exactly one execution, one chained
 * result, and is counted once.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { type SpawnedServer, spawnServer } from "./_spawn_server.ts";
import { authFetch } from "./_auth_fetch.ts";
import type { Execution } from "../components/executions/execution.ts";

const TOKEN = "stale-lease-admin-token";

const PACKAGE = `
id: stale
tenant: sl
queues: [{id: slow}, {id: load}, {id: results}]
jobs:
  - event: {id: nap, schema: {id: s, schemaref: any.json}, supplierqueue: slow, runtime: nap}
    result:
      ok: {id: nap-ok, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
  - event: {id: echo, schema: {id: s, schemaref: any.json}, supplierqueue: load, runtime: echo}
    result:
      ok: {id: echo-ok, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
runtimes:
  - {id: nap, moduleref: nap.wasm, retries: 0, limits: {timeoutms: 30000}}
  - {id: echo, moduleref: echo.wasm}
`;

const start = (data: string) =>
  spawnServer(RUN_MAIN, {
    JOBICO_DATA: data,
    JOBICO_ADMIN_TOKEN: TOKEN,
    JOBICO_LOG_LEVEL: "info",
    JOBICO_WORKERS: "2",
    JOBICO_LEASE_MS: "1000",
  });

// deno-lint-ignore no-explicit-any
async function json(server: SpawnedServer, path: string): Promise<any> {
  const res = await authFetch(server.url, TOKEN)(path);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return await res.json();
}

async function until(
  what: string,
  pred: () => Promise<boolean> | boolean,
  state: () => unknown = () => "",
) {
  const deadline = Date.now() + 25_000;
  while (!(await pred())) {
    if (Date.now() > deadline) {
      throw new Error(`${what} never happened ${JSON.stringify(state())}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function allExecutions(server: SpawnedServer): Promise<Execution[]> {
  const out: Execution[] = [];
  let cursor = "";
  for (;;) {
    const page = await json(
      server,
      `/api/v1/tenants/sl/executions?limit=1000${cursor}`,
    );
    out.push(...page.executions);
    if (!page.cursor) return out;
    cursor = `&cursor=${page.cursor}`;
  }
}

Deno.test("a server paused past its lease does not record what another server ran meanwhile", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-stale-lease-" });
  const a = await start(data);
  let b: SpawnedServer | undefined;
  let stopped = false;
  try {
    const api = authFetch(a.url, TOKEN);
    for (const name of ["nap", "echo"]) {
      const res = await api(`/api/v1/tenants/sl/files/${name}.wasm`, {
        method: "PUT",
        body: await compileWat(name) as Uint8Array<ArrayBuffer>,
      });
      assert.equal(res.status, 201, await res.text());
    }
    await (await api("/api/v1/tenants/sl/files/any.json", {
      method: "PUT",
      body: "{}",
    })).body?.cancel();
    const deployed = await api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: PACKAGE,
    });
    assert.equal(deployed.status, 201, await deployed.text());
    const send = async (
      via: SpawnedServer,
      event: string,
      items: unknown[],
    ) => {
      const res = await authFetch(via.url, TOKEN)(`/events/sl/${event}`, {
        method: "POST",
        body: JSON.stringify({ data: items }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()).ids as string[];
    };
    const load: string[] = [];
    const sendLoad = async (via: SpawnedServer) =>
      load.push(
        ...await send(
          via,
          "echo",
          Array.from({ length: 20 }, (_, i) => ({ n: load.length + i })),
        ),
      );

    // The slow event runs in A: a Worker busy for 300 ms on end.
    const [slow] = await send(a, "nap", [2_000]);
    let busySince = 0;
    await until("the slow event running in A", async () => {
      const busy = (await json(a, "/meta")).sandbox.busy > 0;
      busySince = busy ? busySince || Date.now() : 0;
      return busy && Date.now() - busySince >= 300;
    });
    for (let i = 0; i < 5; i++) await sendLoad(a);
    // A stops mid-run, holding the slow event and maybe some of the load.
    Deno.kill(a.pid, "SIGSTOP");
    stopped = true;
    const stoppedAt = Date.now();
    b = await start(data);
    // B takes the leases over once they expire and runs everything, while
    // more load comes.
    for (let i = 0; i < 5; i++) await sendLoad(b);
    const bSees = b;
    await until(
      "B recording the slow event",
      async () => (await allExecutions(bSees)).some((e) => e.eventId === slow),
    );
    Deno.kill(a.pid, "SIGCONT");
    stopped = false;
    const pausedMs = Date.now() - stoppedAt;
    // A's run of the slow event ends, and its outcome is refused (or, were
    // it not, recorded a second time).
    await until(
      "A refusing its outcome",
      async () =>
        a.seen.some((l) =>
          String(l.msg).startsWith("an outcome was not recorded") &&
          l.eventId === slow
        ) ||
        (await allExecutions(bSees)).filter((e) => e.eventId === slow)
            .length > 1,
    );
    for (let i = 0; i < 5; i++) await sendLoad(a);

    let execs: Execution[] = [];
    await until("every event recorded", async () => {
      execs = await allExecutions(bSees);
      const ids = new Set(execs.map((e) => e.eventId));
      return ids.has(slow) && load.every((id) => ids.has(id)) &&
        execs.filter((e) => e.event === "echo-ok").length >= load.length &&
        execs.some((e) => e.event === "nap-ok");
    }, () => ({
      slow: execs.some((e) => e.eventId === slow),
      loadMissing: load.filter((id) => !execs.some((e) => e.eventId === id))
        .length,
      echoOk: execs.filter((e) => e.event === "echo-ok").length,
      napOk: execs.filter((e) => e.event === "nap-ok").length,
      aWarn: a.seen.filter((l) => l.level !== "info").map((l) => l.msg),
      bWarn: bSees.seen.filter((l) => l.level !== "info").map((l) => l.msg),
    }));
    const count = new Map<string, number>();
    for (const e of execs) {
      count.set(e.eventId, (count.get(e.eventId) ?? 0) + 1);
    }
    const twice = [...count].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], "events recorded more than once");
    const [slowRun] = execs.filter((e) => e.eventId === slow);
    assert.equal(slowRun.status, "ok");
    assert.equal(slowRun.attempt, 2, "B ran it on the second delivery");
    // One chained result each: nothing chained twice.
    assert.equal(execs.filter((e) => e.event === "nap-ok").length, 1);
    assert.equal(
      execs.filter((e) => e.event === "echo-ok").length,
      load.length,
    );
    // Counted once: the queues' counters agree with what ran.
    const stats = async (q: string) =>
      await json(bSees, `/api/v1/tenants/sl/queues/${q}`);
    await until("the queues drained", async () => {
      const [s, l, r] = await Promise.all(
        ["slow", "load", "results"].map(stats),
      );
      return s.processed === 1 && l.processed === load.length &&
        r.processed === load.length + 1 &&
        [s, l, r].every((x) => x.depth === 0 && x.inFlight === 0);
    });
    console.log(
      `stale lease: A paused ${pausedMs} ms (lease 1000 ms), ${load.length} events of load; ` +
        `${
          execs.filter((e) => e.attempt > 1).length
        } executions on a second delivery, none recorded twice`,
    );
  } finally {
    if (stopped) Deno.kill(a.pid, "SIGCONT");
    await a.kill().catch(() => {});
    await b?.kill().catch(() => {});
    await Deno.remove(data, { recursive: true });
  }
});
