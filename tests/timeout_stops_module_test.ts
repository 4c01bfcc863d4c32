/**
 * A timeout really stops the module. `worker.terminate()` cannot stop a
 * Worker spinning in wasm in Deno 2.9, so the deadline is kept inside the
 * metered code: the module asks the host for its fuel in slices, and the
 * host refuses the next slice past the deadline (and at every host call).
 * The Worker is free at once, not when the instruction budget runs out;
 * a shutdown stops what runs after its grace period and puts it back, and
 * the process exits whatever the modules are doing. Before, a spinning
 * module kept its core for as long as its fuel lasted (12.6 s after a
 * 100 ms timeout with a budget of 2e10), and SIGTERM waited for it.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { meterFuel, WasmPool } from "@jobico/goico";
import { spawnServer } from "./_spawn_server.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { authFetch } from "./_auth_fetch.ts";

const encoder = new TextEncoder();

/** `name` metered as the executor meters modules. */
async function metered(name: string): Promise<WebAssembly.Module> {
  const bytes = meterFuel(await compileWat(name), {
    memoryLimitPages: 2048,
    interrupt: true,
  });
  return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

Deno.test("a spinning module with a budget of hours is stopped at its timeout and its Worker serves the next call", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    // 1e13 instructions: hours of spinning if only the budget stopped it.
    const r = await pool.run({
      key: "spin",
      module: await metered("spin"),
      guest: { fuel: 10_000_000_000_000n },
      input: encoder.encode("{}"),
      timeoutMs: 100,
    });
    assert.equal(r.timedOut, true);
    assert.ok(!r.outcome.ok);
    assert.match(r.outcome.reason, /^timeout: .* 100 ms$/);
    // The Worker is free: settled resolves and the next call runs there.
    await r.settled;
    assert.equal(pool.busy, 0);
    const next = await pool.run({
      key: "echo",
      module: await metered("echo"),
      guest: { fuel: 1_000_000n },
      input: encoder.encode("after"),
      timeoutMs: 5_000,
    });
    assert.ok(next.outcome.ok && next.outcome.result === "after");
  } finally {
    pool.close();
  }
});

Deno.test("a sleeping module wakes at its timeout, and at a cancel", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    const module = await metered("sleeper");
    // An empty input sleeps 60 s twice; maxSleepMs would allow it.
    const guest = { fuel: 1_000_000_000n, maxSleepMs: 120_000 };
    const r = await pool.run({
      key: "sleeper",
      module,
      guest,
      input: new Uint8Array(),
      timeoutMs: 150,
    });
    assert.equal(r.timedOut, true);
    await r.settled;
    assert.equal(pool.busy, 0);
    // With a minute to sleep, a cancel wakes it (the test would wait 2 min).
    const batch = pool.runBatch([{
      key: "sleeper",
      module,
      guest,
      input: new Uint8Array(),
      timeoutMs: 120_000,
    }], () => {});
    await new Promise((r) => setTimeout(r, 100));
    pool.cancelAll();
    const { ran, settled } = await batch;
    await settled;
    assert.equal(ran, 0);
  } finally {
    pool.close();
  }
});

Deno.test("cancelAll stops calls under way without reporting them: ran leaves them out", async () => {
  const pool = new WasmPool({ size: 1 });
  try {
    const module = await metered("spin");
    const results: number[] = [];
    const batch = pool.runBatch(
      [0, 1, 2].map(() => ({
        key: "spin",
        module,
        guest: { fuel: 10_000_000_000_000n },
        input: encoder.encode("{}"),
        timeoutMs: 60_000,
      })),
      (i) => results.push(i),
    );
    // Once the first call is running, stop everything.
    await new Promise((r) => setTimeout(r, 100));
    pool.cancelAll();
    const { ran, settled } = await batch;
    await settled;
    assert.equal(ran, 0);
    assert.deepEqual(results, []);
  } finally {
    pool.close();
  }
});

const SPIN_PACKAGE = `
id: spinner
tenant: spin
queues: [{id: q}]
jobs:
  - event: {id: run, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: r}
runtimes:
  - {id: r, moduleref: spin.wasm, retries: 0, limits: {timeoutms: 60000, fuel: 20000000000}}
`;

Deno.test("SIGTERM while a module spins: the process exits after its shutdown grace, and the event is put back unrun", async () => {
  const data = await Deno.makeTempDir();
  const token = "timeout-test-admin-token";
  const env = {
    JOBICO_DATA: data,
    JOBICO_ADMIN_TOKEN: token,
    JOBICO_LOG_LEVEL: "info",
    JOBICO_WORKERS: "1",
    JOBICO_SHUTDOWN_GRACE_MS: "300",
  };
  let server = await spawnServer(RUN_MAIN, env);
  try {
    const api = authFetch(server.url, token);
    const put = async (name: string, body: BodyInit) => {
      const res = await api(`/api/v1/tenants/spin/files/${name}`, {
        method: "PUT",
        body,
      });
      assert.ok(res.ok, await res.text());
    };
    await put(
      "spin.wasm",
      (await compileWat("spin")) as Uint8Array<ArrayBuffer>,
    );
    await put("any.json", "{}");
    const dep = await api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: SPIN_PACKAGE,
    });
    assert.equal(dep.status, 201, await dep.text());
    const sent = await api("/events/spin/run", {
      method: "POST",
      body: JSON.stringify({ data: [{}] }),
    });
    assert.equal(sent.status, 200, await sent.text());
    // Wait until the module runs in the sandbox.
    for (let i = 0; i < 200; i++) {
      const meta = await (await api("/meta")).json();
      if (meta.sandbox?.busy === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Budget 2e10, timeout 60 s: only the shutdown can stop it now.
    const stopped = server.stop();
    const exited = await Promise.race([
      stopped.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 30_000)),
    ]);
    assert.ok(exited, "the process exited within 30 s of SIGTERM");
    assert.equal((await stopped).code, 0);
    assert.ok(
      server.seen.some((l) => l.msg === "shutting down"),
      "it shut down gracefully",
    );

    // After a restart, nothing was recorded for it and it is queued again.
    server = await spawnServer(RUN_MAIN, env);
    const again = authFetch(server.url, token);
    const { executions } = await (await again(
      "/api/v1/tenants/spin/executions",
    )).json();
    assert.deepEqual(executions, []);
    const queues = await (await again("/api/v1/tenants/spin/queues")).json();
    const q = JSON.stringify(queues);
    assert.match(q, /"(depth|inFlight)":1/, q);
  } finally {
    await server.kill().catch(() => {});
    await Deno.remove(data, { recursive: true });
  }
});
