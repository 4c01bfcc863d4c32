/**
 * `jobico serve --components ...` in separate processes on one data
 * directory: the control plane, a listener and an executor work together,
 * and a redeploy made through one process reaches the listener of another
 * (kv.watch does not cross processes on one SQLite file; the change feed's
 * poll does).
 */
import assert from "node:assert/strict";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { examples } from "../components/server/_test_platform.ts";
import { RUN_CLI } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";
import { authFetch } from "./_auth_fetch.ts";
import { adminTokenFile } from "../components/server/admin_token.ts";

const serve = (data: string, components: string, ...more: string[]) =>
  spawnServer(
    [...RUN_CLI, "serve", "--data", data, "--components", components, ...more],
    { JOBICO_LOG_LEVEL: "info" },
  );

Deno.test("listener, executor and control plane in three processes on one data directory", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-multi-" });
  const ctl = await serve(data, "ctl,repo,recorder");
  // The first process made the admin token; the others read the same file.
  const token = (await Deno.readTextFile(adminTokenFile(data))).trim();
  const listener = await serve(data, "listener");
  const executor = await serve(data, "executor", "--workers", "2");
  try {
    // What a process runs is told to a caller with a token.
    const meta = async (url: string) =>
      (await (await authFetch(url, token)("/meta")).json()).components;
    assert.deepEqual(await meta(ctl.url), ["ctl", "repo", "recorder"]);
    assert.deepEqual(await meta(listener.url), ["listener"]);
    assert.deepEqual(await meta(executor.url), ["executor"]);

    const ctlApi = authFetch(ctl.url, token);
    const listenerApi = authFetch(listener.url, token);
    await deployGreetOver(ctlApi);
    const send = (items: unknown[]) =>
      listenerApi("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({ data: items }),
      });
    // The listener reads the new package from the shared store.
    let res = await send([{ name: "Ada" }]);
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();

    // A redeploy with a stricter schema, made through the control process,
    // reaches the listener process: measure how long it takes.
    const strict = JSON.parse(
      await Deno.readTextFile(new URL("greet.schema.json", examples)),
    );
    strict.properties.lang = { type: "string" };
    strict.required = ["name", "lang"];
    const put = await ctlApi(
      "/api/v1/tenants/demo/files/strict.schema.json",
      { method: "PUT", body: JSON.stringify(strict) },
    );
    assert.equal(put.status, 201);
    const yaml = (await Deno.readTextFile(new URL("job.yaml", examples)))
      .replace("schemaref: greet.schema.json", "schemaref: strict.schema.json");
    const deployed = await ctlApi("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: yaml,
    });
    assert.equal(deployed.status, 201);
    const t0 = performance.now();
    for (;;) {
      res = await send([{ name: "Bob" }]);
      await res.body?.cancel();
      if (res.status === 400 || performance.now() - t0 > 5_000) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const reachedMs = performance.now() - t0;
    console.log(
      `redeploy reached the listener process in ${reachedMs.toFixed(0)} ms`,
    );
    assert.equal(res.status, 400, "the listener never saw the redeploy");
    assert.ok(reachedMs < 1_000, `took ${reachedMs} ms`);

    // Events accepted by the listener process are run by the executor
    // process and visible through the control process.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await send(
        Array.from(
          { length: 50 },
          (_, j) => ({ name: `n${i}-${j}`, lang: "en" }),
        ),
      );
      assert.equal(r.status, 200);
      ids.push(...(await r.json()).ids);
    }
    const want = new Set(ids);
    let okCount = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const page = await (await ctlApi(
        "/api/v1/tenants/demo/executions?event=greet&limit=1000",
      )).json();
      okCount =
        page.executions.filter((e: { eventId: string; status: string }) =>
          want.has(e.eventId) && e.status === "ok"
        ).length;
      if (okCount === ids.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(okCount, ids.length);
  } finally {
    const codes = [
      (await executor.stop()).code,
      (await listener.stop()).code,
      (await ctl.stop()).code,
    ];
    await Deno.remove(data, { recursive: true });
    assert.deepEqual(codes, [0, 0, 0]);
  }
});
