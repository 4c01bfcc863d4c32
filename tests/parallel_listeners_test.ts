/**
 * The scale-out on one machine that docs/scaling.md describes: the HTTP
 * side in two isolates of `deno serve --parallel serve.ts` sharing the port
 * and the store, and the executor in a process of its own. Requests land on
 * both isolates, a redeploy made through one reaches the other, and every
 * accepted event is executed once by the executor process.
 */
import assert from "node:assert/strict";
import { examples } from "../components/server/_test_platform.ts";
import { authFetch } from "./_auth_fetch.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { RUN_CLI } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";
import { spawnParallel, waitIsolates } from "./_spawn_parallel.ts";

const TOKEN = "parallel-test-admin-token";

Deno.test("two deno serve --parallel isolates and an executor process share one store", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-parallel-" });
  const http = await spawnParallel(data, 2, TOKEN);
  const url = http.url;
  const executor = await spawnServer(
    [...RUN_CLI, "serve", "--data", data, "--components", "executor"],
    { JOBICO_ADMIN_TOKEN: TOKEN, JOBICO_LOG_LEVEL: "info" },
  );
  // A new connection per request, so the kernel spreads them over both.
  const api = (path: string, init: RequestInit = {}) =>
    authFetch(url, TOKEN)(path, {
      ...init,
      headers: { ...init.headers, connection: "close" },
    });
  try {
    const isolates = await waitIsolates(url, 2);
    assert.equal(
      isolates.size,
      2,
      `both isolates answer; the server's log:\n${http.log()}`,
    );
    await deployGreetOver(api);

    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await api("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({ data: [{ name: `n${i}` }, { name: `m${i}` }] }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      ids.push(...(await res.json()).ids);
    }

    // A redeploy through whichever isolate takes the request reaches both:
    // 20 requests in a row on new connections all see the new schema.
    const strict = JSON.parse(
      await Deno.readTextFile(new URL("greet.schema.json", examples)),
    );
    strict.properties.lang = { type: "string" };
    strict.required = ["name", "lang"];
    const put = await api("/api/v1/tenants/demo/files/strict.schema.json", {
      method: "PUT",
      body: JSON.stringify(strict),
    });
    assert.equal(put.status, 201, await put.text());
    const yaml = (await Deno.readTextFile(new URL("job.yaml", examples)))
      .replace("schemaref: greet.schema.json", "schemaref: strict.schema.json");
    const t0 = performance.now();
    const deployed = await api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: yaml,
    });
    assert.equal(deployed.status, 201, await deployed.text());
    let streak = 0;
    let reachedMs = 0;
    while (streak < 20 && performance.now() - t0 < 5_000) {
      const res = await api("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({ data: [{ name: "no-lang" }] }),
      });
      await res.body?.cancel();
      if (res.status === 400) {
        if (streak++ === 0) reachedMs = performance.now() - t0;
      } else streak = 0;
    }
    assert.equal(streak, 20, "an isolate kept the old schema");
    console.log(
      `a redeploy reached both isolates within ${reachedMs.toFixed(0)} ms`,
    );
    assert.ok(reachedMs < 1_000);

    // Every accepted event runs once, in the executor process.
    const want = new Set(ids);
    let done = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && done < want.size) {
      const page = await (await api(
        "/api/v1/tenants/demo/executions?event=greet&limit=1000",
      )).json();
      done = page.executions.filter((e: { eventId: string; status: string }) =>
        want.has(e.eventId) && e.status === "ok"
      ).length;
      if (done < want.size) {
        await new Promise((r) =>
          setTimeout(r, 100)
        );
      }
    }
    assert.equal(done, want.size);
  } finally {
    await http.stop();
    assert.equal((await executor.stop()).code, 0);
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("an isolate that cannot open its store answers 503 problem+json naming itself, not a bare 500", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jobico-parallel-" });
  // A file where the data directory should be: no isolate can open it.
  const data = `${dir}/not-a-directory`;
  await Deno.writeTextFile(data, "");
  const http = await spawnParallel(data, 1, TOKEN);
  try {
    const res = await fetch(`${http.url}/meta`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const body = await res.json();
    assert.match(body.detail, /isolate isolate-\w+ failed to start/);
    // The log is read as it comes: give its last lines a moment.
    for (
      let i = 0;
      i < 100 && !/isolate failed to start/.test(http.log());
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(http.log(), /opening the store failed; trying again/);
    assert.match(http.log(), /isolate failed to start/);
  } finally {
    await http.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
