/**
 * Rate limits across processes: two `jobico serve` processes with
 * listeners on one data directory (one SQLite file) take a concurrent
 * burst against one key of a `reject` limit: exactly the limit passes,
 * whichever process received each request (requests the store refused as
 * busy, 503, are sent again, as a client would).
 */
import assert from "node:assert/strict";
import { RUN_CLI } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";
import { authFetch } from "./_auth_fetch.ts";
import { adminTokenFile } from "../components/server/admin_token.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";

const serve = (data: string, components: string) =>
  spawnServer(
    [...RUN_CLI, "serve", "--data", data, "--components", components],
    { JOBICO_LOG_LEVEL: "info" },
  );

Deno.test("two processes on one store admit exactly a reject limit's items of one key", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-rate-" });
  const a = await serve(data, "ctl,repo,recorder,listener,executor");
  const token = (await Deno.readTextFile(adminTokenFile(data))).trim();
  const b = await serve(data, "listener");
  try {
    const apis = [authFetch(a.url, token), authFetch(b.url, token)];
    for (
      const [name, body] of [
        ["echo.wasm", await compileWat("echo")],
        ["any.json", new TextEncoder().encode('{"type":"object"}')],
      ] as const
    ) {
      const res = await apis[0](`/api/v1/tenants/acme/files/${name}`, {
        method: "PUT",
        body: body as Uint8Array<ArrayBuffer>,
      });
      assert.equal(res.status, 201, await res.text());
    }
    const deployed = await apis[0]("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: `id: limited
tenant: acme
queues: [{id: q}]
jobs:
  - event:
      id: work
      schema: {id: s, schemaref: any.json}
      supplierqueue: q
      runtime: echo
      rateLimit: {limit: 30, period: 30d, key: $.k, mode: reject}
runtimes: [{id: echo, moduleref: echo.wasm}]
`,
    });
    assert.equal(deployed.status, 201, await deployed.text());
    // Both processes route the event before the burst (the second reads
    // the deploy from the shared file within a second or so).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await apis[1]("/events/acme/work", {
        method: "POST",
        body: JSON.stringify({ data: [{ k: "probe" }] }),
      });
      await res.body?.cancel();
      if (res.status === 200) break;
      assert.ok(Date.now() < deadline, `process b never routed: ${res.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 40 }, async () => {
      while (next < 200) {
        const i = next++;
        // Two writers on one SQLite file meet "database is locked" (a 503,
        // nothing stored; docs/scaling.md): a client tries again.
        for (let tries = 0;; tries++) {
          const res = await apis[(i + tries) % 2]("/events/acme/work", {
            method: "POST",
            body: JSON.stringify({ data: [{ k: "hot" }] }),
          });
          await res.body?.cancel();
          if (res.status !== 503 || tries >= 200) {
            statuses.push(res.status);
            break;
          }
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
        }
      }
    }));
    assert.equal(statuses.filter((s) => s === 200).length, 30, `${statuses}`);
    assert.equal(statuses.filter((s) => s === 429).length, 170);
  } finally {
    await b.stop();
    await a.stop();
    await Deno.remove(data, { recursive: true });
  }
});
