/**
 * A redeploy takes effect within a second, measured: the listener validates
 * with the new schema, and an event accepted after the redeploy runs with
 * the new version's module and limits. An event accepted before it still
 * runs with the version it was accepted under. In one process, and across
 * a listener process and an executor process on one data directory.
 */
import assert from "node:assert/strict";
import { examples } from "../components/server/_test_platform.ts";
import { createPlatform } from "../components/platform.ts";
import type { Execution } from "../components/executions/execution.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { deployGreet, startHarness, storeTest as test } from "./_harness.ts";
import { RUN_CLI } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";

type Api = (path: string, init?: RequestInit) => Promise<Response>;

/** Version 2 of the greet package: `lang` required, the greeter replaced by a spinner with 3M fuel. */
async function version2(): Promise<string> {
  const yaml = await Deno.readTextFile(new URL("job.yaml", examples));
  const v2 = yaml
    .replace("schemaref: greet.schema.json", "schemaref: strict.schema.json")
    .replace(
      "moduleref: greet.wasm\n    mainfuncname: event\n    type: 0 # wasm\n",
      "moduleref: spin.wasm\n    mainfuncname: event\n    type: 0 # wasm\n" +
        "    retries: 0\n    limits: {fuel: 3000000}\n",
    );
  assert.notEqual(v2, yaml);
  assert.match(v2, /spin\.wasm/);
  return v2;
}

/** What version 2 does to an event: the spinner stops at v2's fuel. */
const V2_FAILURE =
  /^fuel exhausted: the module ran more than 3000000 instructions$/;

/** Uploads version 2's files. */
async function uploadVersion2(api: Api): Promise<void> {
  const strict = JSON.parse(
    await Deno.readTextFile(new URL("greet.schema.json", examples)),
  );
  strict.properties.lang = { type: "string" };
  strict.required = ["name", "lang"];
  for (
    const [name, body] of [
      ["strict.schema.json", JSON.stringify(strict)],
      ["spin.wasm", await compileWat("spin")],
    ] as const
  ) {
    const res = await api(`/api/v1/tenants/demo/files/${name}`, {
      method: "PUT",
      body: body as BodyInit,
    });
    assert.equal(res.status, 201, await res.text());
  }
}

async function deploy(api: Api, yaml: string): Promise<number> {
  const res = await api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/yaml" },
    body: yaml,
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.version;
}

async function send(api: Api, items: unknown[]): Promise<Response> {
  return await api("/events/demo/greet", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ data: items }),
  });
}

/** Posts an item only version 1 accepts until the listener refuses it; the ms it took from `t0`. */
async function untilNewSchema(api: Api, t0: number): Promise<number> {
  for (;;) {
    const res = await send(api, [{ name: "Bob" }]);
    await res.body?.cancel();
    const ms = performance.now() - t0;
    if (res.status === 400) return ms;
    assert.equal(res.status, 200);
    if (ms > 5_000) throw new Error("The listener never used the new schema");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends an item only version 2 accepts; its event id. */
async function sendV2(api: Api): Promise<string> {
  const res = await send(api, [{ name: "Cy", lang: "en" }]);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.ids[0];
}

/** Polls the executions every 5 ms until one of `eventId` is recorded. */
async function executionOf(api: Api, eventId: string): Promise<Execution> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const res = await api("/api/v1/tenants/demo/executions?event=greet");
    const page = await res.json();
    const e = (page.executions as Execution[]).find((x) =>
      x.eventId === eventId
    );
    if (e) return e;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`Event ${eventId} was never executed`);
}

test("a redeploy reaches the listener and the executor within 1 s", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    // Warm up: the greeter has run once.
    const [first] = await h.send("demo", "greet", [{ name: "Ada" }]);
    assert.equal((await executionOf(h.api, first)).status, "ok");
    await uploadVersion2(h.api);

    const t0 = performance.now();
    assert.equal(await deploy(h.api, await version2()), 2);
    const deployMs = performance.now() - t0;
    const schemaMs = await untilNewSchema(h.api, t0);
    const accepted = performance.now();
    const id = await sendV2(h.api);
    const exec = await executionOf(h.api, id);
    const executedMs = performance.now() - t0;
    console.log(
      `in one process: deploy answered in ${deployMs.toFixed(1)} ms; ` +
        `the listener used the new schema ${schemaMs.toFixed(1)} ms after ` +
        `the redeploy began; an event accepted then ran with version 2 ` +
        `${(performance.now() - accepted).toFixed(1)} ms after it was sent, ` +
        `${executedMs.toFixed(1)} ms after the redeploy began`,
    );
    assert.equal(exec.status, "failed");
    assert.match(exec.error!, V2_FAILURE);
    assert.ok(schemaMs < 1_000, `schema took ${schemaMs} ms`);
    assert.ok(executedMs < 1_000, `execution took ${executedMs} ms`);
  } finally {
    await h.close();
  }
});

test("an event accepted under version 1 runs with version 1 after the redeploy", async (store) => {
  // No executor yet: the events wait in their queue across the redeploy.
  const h = await startHarness({
    store,
    components: ["ctl", "repo", "listener", "recorder"],
  });
  const ctrl = new AbortController();
  let running: Promise<void> | undefined;
  try {
    await deployGreet(h);
    const [v1Id] = await h.send("demo", "greet", [{ name: "Ada" }]);
    await uploadVersion2(h.api);
    assert.equal(await deploy(h.api, await version2()), 2);
    await untilNewSchema(h.api, performance.now());
    const v2Id = await sendV2(h.api);

    // Now an executor on the same store runs both.
    const executor = createPlatform(
      {
        kv: h.kv,
        adminToken: "unused-admin-token-0123",
        components: ["executor"],
        workers: 1,
      },
      ctrl.signal,
    );
    running = executor.run(ctrl.signal);
    const v1 = await executionOf(h.api, v1Id);
    assert.equal(v1.status, "ok", v1.error ?? "");
    assert.equal(v1.result, '{"greeting":"Hello, Ada!"}');
    const v2 = await executionOf(h.api, v2Id);
    assert.equal(v2.status, "failed");
    assert.match(v2.error!, V2_FAILURE);
  } finally {
    ctrl.abort();
    await running;
    await h.close();
  }
});

Deno.test("across processes: a listener process and an executor process see a redeploy within 1 s", async () => {
  const token = "redeploy-test-admin-token";
  const data = await Deno.makeTempDir({ prefix: "jobico-redeploy-" });
  const serve = (components: string) =>
    spawnServer(
      [...RUN_CLI, "serve", "--data", data, "--components", components],
      { JOBICO_LOG_LEVEL: "info", JOBICO_ADMIN_TOKEN: token },
    );
  // The control plane runs with the executor: a redeploy crosses to the
  // listener process, and the events it accepts cross back to the executor.
  const executor = await serve("ctl,repo,recorder,executor");
  const listener = await serve("listener");
  const via = (url: string): Api => (path, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    return fetch(url + path, { ...init, headers });
  };
  const ctl = via(executor.url);
  const events = via(listener.url);
  try {
    await deployGreetOver(ctl);
    // The listener process has read version 1; the executor has run it.
    let first: string | undefined;
    const deadline = Date.now() + 5_000;
    while (!first && Date.now() < deadline) {
      const res = await send(events, [{ name: "Ada" }]);
      if (res.status === 200) first = (await res.json()).ids[0];
      else await res.body?.cancel();
    }
    assert.ok(first, "the listener process never saw version 1");
    assert.equal((await executionOf(ctl, first)).status, "ok");
    await uploadVersion2(ctl);

    const t0 = performance.now();
    assert.equal(await deploy(ctl, await version2()), 2);
    const schemaMs = await untilNewSchema(events, t0);
    const accepted = performance.now();
    const id = await sendV2(events);
    const exec = await executionOf(ctl, id);
    const runMs = performance.now() - accepted;
    const totalMs = performance.now() - t0;
    console.log(
      `across processes: the listener process used the new schema ` +
        `${schemaMs.toFixed(0)} ms after the redeploy began; an event it ` +
        `accepted then ran in the executor process with version 2 ` +
        `${runMs.toFixed(0)} ms after it was sent, ${
          totalMs.toFixed(0)
        } ms after the redeploy began`,
    );
    assert.equal(exec.status, "failed");
    assert.match(exec.error!, V2_FAILURE);
    assert.ok(schemaMs < 1_000, `schema took ${schemaMs} ms`);
    assert.ok(runMs < 1_000, `execution took ${runMs} ms`);
  } finally {
    const codes = [(await listener.stop()).code, (await executor.stop()).code];
    await Deno.remove(data, { recursive: true });
    assert.deepEqual(codes, [0, 0]);
  }
});
