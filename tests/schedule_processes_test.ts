/**
 * Schedules across processes: two `jobico serve` processes that both run a
 * listener (so both run a scheduler) and an executor, on one data
 * directory. Every tick of an every-second schedule runs exactly once.
 */
import assert from "node:assert/strict";
import { RUN_CLI } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";
import { authFetch } from "./_auth_fetch.ts";
import { adminTokenFile } from "../components/server/admin_token.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import type { Execution } from "../components/executions/execution.ts";

const serve = (data: string, components: string) =>
  spawnServer(
    [...RUN_CLI, "serve", "--data", data, "--components", components],
    { JOBICO_LOG_LEVEL: "info", JOBICO_SCHEDULE_MIN_MS: "1000" },
  );

Deno.test("two processes with schedulers on one store send each tick once", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-sched-" });
  const a = await serve(data, "ctl,repo,recorder,listener,executor");
  const token = (await Deno.readTextFile(adminTokenFile(data))).trim();
  const b = await serve(data, "listener,executor");
  try {
    const api = authFetch(a.url, token);
    for (
      const [name, body] of [
        ["echo.wasm", await compileWat("echo")],
        ["any.json", new TextEncoder().encode('{"type":"object"}')],
      ] as const
    ) {
      const res = await api(`/api/v1/tenants/acme/files/${name}`, {
        method: "PUT",
        body: body as Uint8Array<ArrayBuffer>,
      });
      assert.equal(res.status, 201, await res.text());
    }
    const yaml = `id: cron
tenant: acme
queues:
  - id: q
jobs:
${
      ["a", "b", "c"].map((id) =>
        `  - event:
      id: ${id}
      schema: { id: s-${id}, schemaref: any.json }
      supplierqueue: q
      runtime: echo
      schedule: "* * * * * *"
`
      ).join("")
    }runtimes:
  - id: echo
    moduleref: echo.wasm
`;
    const deployed = await api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: yaml,
    });
    assert.equal(deployed.status, 201, await deployed.text());
    // Both processes must have read the package: then every tick they both
    // see is contended.
    const deadline = Date.now() + 20_000;
    let execs: Execution[] = [];
    while (Date.now() < deadline) {
      execs = (await (await api(
        "/api/v1/tenants/acme/executions?limit=1000",
      )).json()).executions;
      const perEvent = ["a", "b", "c"].map((e) =>
        execs.filter((x) => x.event === e).length
      );
      if (perEvent.every((n) => n >= 6)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const event of ["a", "b", "c"]) {
      const ticks = execs.filter((x) => x.event === event).map((x) =>
        (x.input as { scheduledAt: string }).scheduledAt
      );
      assert.ok(ticks.length >= 6, `${event}: ${ticks.length} ticks`);
      // Each tick once, whichever process sent it.
      assert.equal(new Set(ticks).size, ticks.length, `${event}: ${ticks}`);
    }
  } finally {
    await b.stop();
    await a.stop();
    await Deno.remove(data, { recursive: true });
  }
});
