/**
 * No accepted event is lost: the platform runs in its own process, is
 * killed with SIGKILL while it executes, and restarted on the same data
 * directory. Every id the listener answered with must end with an ok
 * execution, and none may run twice after it was acknowledged.
 */
import assert from "node:assert/strict";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { authFetch } from "./_auth_fetch.ts";
import { TEST_STATE_HOME } from "./_state_home.ts";

const TOKEN = "crash-test-admin-token";

function spawnPlatform(data: string, port: number) {
  return new Deno.Command(Deno.execPath(), {
    args: RUN_MAIN,
    env: {
      JOBICO_PORT: String(port),
      JOBICO_DATA: data,
      JOBICO_ADMIN_TOKEN: TOKEN,
      JOBICO_LOG_LEVEL: "error",
      NO_COLOR: "1",
      XDG_STATE_HOME: TEST_STATE_HOME,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(url + "/healthz");
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`The platform at ${url} did not come up`);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Exec {
  eventId: string;
  event: string;
  status: string;
  attempt: number;
  startedAt: string;
  durationMs: number;
}

async function allExecutions(url: string): Promise<Exec[]> {
  const out: Exec[] = [];
  let cursor = "";
  for (;;) {
    const page = await (await authFetch(url, TOKEN)(
      `/api/v1/tenants/demo/executions?limit=1000&event=greet${cursor}`,
    )).json();
    out.push(...page.executions);
    if (!page.cursor) return out;
    cursor = `&cursor=${page.cursor}`;
  }
}

Deno.test("after SIGKILL mid-flight and a restart, every accepted event has exactly one ok execution", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-crash-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  let child = spawnPlatform(data, port);
  try {
    await waitUp(url);
    await deployGreetOver(authFetch(url, TOKEN));
    // Send while it executes; kill it once some, not all, have run.
    const accepted: string[] = [];
    const N = 3000;
    for (let i = 0; i < N / 100; i++) {
      const res = await authFetch(url, TOKEN)("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({
          data: Array.from({ length: 100 }, (_, j) => ({ name: `n${i}-${j}` })),
        }),
      });
      assert.equal(res.status, 200);
      accepted.push(...(await res.json()).ids);
    }
    const before = await allExecutions(url);
    child.kill("SIGKILL");
    await child.status;
    if (before.length >= N) {
      console.warn(
        "crash test: the kill came after every event had run; nothing was in flight",
      );
    }

    child = spawnPlatform(data, port);
    await waitUp(url);
    const restarted = Date.now();
    let execs: Exec[] = [];
    while (Date.now() - restarted < 30_000) {
      execs = await allExecutions(url);
      if (execs.length >= N) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const recoveryMs = Date.now() - restarted;
    const byEvent = new Map<string, Exec[]>();
    for (const e of execs) {
      byEvent.set(e.eventId, [...(byEvent.get(e.eventId) ?? []), e]);
    }
    const missing = accepted.filter((id) => !byEvent.has(id));
    assert.deepEqual(
      missing,
      [],
      `${missing.length} accepted events never ran`,
    );
    for (const [id, runs] of byEvent) {
      assert.equal(runs.length, 1, `event ${id} ran ${runs.length} times`);
      assert.equal(runs[0].status, "ok");
    }
    const reruns = execs.filter((e) => e.attempt > 1);
    // When the last event that was in flight at the kill had run again.
    const inFlightMs = Math.max(
      0,
      ...reruns.map((e) => Date.parse(e.startedAt) + e.durationMs - restarted),
    );
    console.log(
      `crash test: ${before.length}/${N} done before SIGKILL; ${reruns.length} in flight ran again ` +
        `(attempt > 1), the last ${
          Math.round(inFlightMs)
        } ms after the restart; ` +
        `all ${N} recorded ${recoveryMs} ms after the restart`,
    );
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(data, { recursive: true });
  }
});
