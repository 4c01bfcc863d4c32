/**
 * Crashes leave no garbage: the platform runs in its own process and is
 * killed with SIGKILL in the middle of a 16 MiB upload, and in the middle
 * of a tenant delete; the test watches the store file from outside (Deno
 * KV on one SQLite file works across processes) to kill at the right time.
 * After a restart on the same data directory, the upload's chunks are
 * collected, and the delete is finished: the tenant was unusable at once,
 * none of its events ran, nothing of it is left, counters included.
 */
import assert from "node:assert/strict";
import { keys } from "../components/model/keys.ts";
import { tenantQueuesPrefix } from "../components/model/queue_ref.ts";
import { authFetch } from "./_auth_fetch.ts";
import { bigModule } from "./_big_module.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";

const TOKEN = "crash-garbage-admin-token";

async function count(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms = 60_000,
  every = 100,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

function start(data: string, env: Record<string, string> = {}) {
  return spawnServer(RUN_MAIN, {
    JOBICO_DATA: data,
    JOBICO_ADMIN_TOKEN: TOKEN,
    JOBICO_LOG_LEVEL: "info",
    ...env,
  });
}

Deno.test("SIGKILL during a 16 MiB upload: after a restart its chunks are collected, and the upload works again", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-crash-upload-" });
  const env = { JOBICO_UPLOAD_GRACE_MS: "500" };
  let server = await start(data, env);
  const kv = await Deno.openKv(`${data}/kv.sqlite3`);
  try {
    const bytes = bigModule(16 * 1024 * 1024);
    const upload = authFetch(server.url, TOKEN)(
      "/api/v1/tenants/demo/files/big.wasm",
      { method: "PUT", body: bytes },
    ).then((r) => r.status, () => "killed");
    // Kill as soon as its first chunks are in the store.
    await waitFor(
      "the upload's first chunks",
      async () => (await count(kv, keys.blobs())) > 0,
      30_000,
      2,
    );
    await server.kill();
    await upload;
    const left = await Array.fromAsync(kv.list({ prefix: keys.blobs() }));
    assert.ok(
      !left.some((e) => e.key.at(-1) === "meta"),
      "inconclusive: the upload finished before the kill",
    );
    console.log(
      `crash garbage: ${left.length} chunks (${
        (left.reduce((n, e) => n + (e.value as Uint8Array).length, 0) /
          1024 / 1024).toFixed(1)
      } MiB) left by the kill`,
    );

    server = await start(data, env);
    const api = authFetch(server.url, TOKEN);
    await waitFor(
      "the abandoned chunks to be collected",
      async () => (await count(kv, keys.blobs())) === 0,
    );
    assert.equal(await count(kv, keys.blobUploads()), 0);
    const files = await (await api("/api/v1/tenants/demo/files")).json();
    assert.ok(!JSON.stringify(files).includes("big.wasm"));
    // The same upload now goes through, whole.
    const again = await api("/api/v1/tenants/demo/files/big.wasm", {
      method: "PUT",
      body: bytes,
    });
    assert.equal(again.status, 201, await again.text());
    const back = await api("/api/v1/tenants/demo/files/big.wasm");
    assert.equal((await back.arrayBuffer()).byteLength, bytes.length);
  } finally {
    kv.close();
    await server.stop().catch(() => {});
    await Deno.remove(data, { recursive: true });
  }
});

/** Every key the tenant "demo" may have anywhere in the store. */
async function tracesOf(kv: Deno.Kv, tenant: string): Promise<string[]> {
  const out: string[] = [];
  for (const prefix of keys.tenantPrefixes(tenant)) {
    if ((await kv.get(prefix)).versionstamp !== null) out.push(String(prefix));
    if (await count(kv, prefix)) out.push(String(prefix));
  }
  for await (const e of kv.list({ prefix: keys.queues() })) {
    if (
      e.key.some((p) =>
        typeof p === "string" && p.startsWith(tenantQueuesPrefix(tenant))
      )
    ) {
      out.push(String(e.key));
    }
  }
  return out;
}

Deno.test("SIGKILL during a tenant delete: unusable at once, none of its events run, the delete finishes after a restart, counters right", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-crash-delete-" });
  // No executor at first: the tenant's events wait in its queue.
  let server = await start(data, {
    JOBICO_COMPONENTS: "ctl,repo,listener,recorder",
  });
  const kv = await Deno.openKv(`${data}/kv.sqlite3`);
  try {
    let api = authFetch(server.url, TOKEN);
    const created = await api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "demo" }),
    });
    assert.equal(created.status, 201);
    const tenantToken = (await created.json()).token;
    await deployGreetOver(api);
    // Another tenant with the same module: its bytes must stay.
    const wasm = await Deno.readFile(
      new URL("../examples/greet/greet.wasm", import.meta.url),
    );
    assert.equal(
      (await api("/api/v1/tenants/other/files/greet.wasm", {
        method: "PUT",
        body: wasm,
      })).status,
      201,
    );
    for (let i = 0; i < 60; i++) {
      const res = await api("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({
          data: Array.from({ length: 500 }, (_, j) => ({ name: `n${i}-${j}` })),
        }),
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    const deleting = api("/api/v1/tenants/demo", { method: "DELETE" })
      .then((r) => r.status, () => "killed");
    // Kill once its token is revoked (the first step, before and after
    // this change), while its queue is being emptied.
    await waitFor(
      "the delete to start",
      async () =>
        (await kv.get(keys.tenantCredentials("demo"))).versionstamp === null,
      30_000,
      2,
    );
    await server.kill();
    await deleting;
    const waiting = await count(kv, [
      ...keys.queues(),
      "ready",
      "demo/greetings",
    ]);
    assert.ok(waiting > 0, "inconclusive: the delete finished before the kill");
    console.log(
      `crash garbage: ${waiting} events of the tenant left by the kill`,
    );

    server = await start(data);
    api = authFetch(server.url, TOKEN);
    // Unusable at once: with its token, the admin's, or none.
    const own = await authFetch(server.url, tenantToken)("/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [{ name: "after" }] }),
    });
    assert.equal(own.status, 401, await own.text());
    const shown = await api("/api/v1/tenants/demo");
    assert.equal(shown.status, 404, await shown.text());
    const send = await api("/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [{ name: "after" }] }),
    });
    assert.equal(send.status, 404, await send.text());
    const upload = await api("/api/v1/tenants/demo/files/x.json", {
      method: "PUT",
      body: "{}",
    });
    assert.ok([404, 409].includes(upload.status), String(upload.status));
    await upload.body?.cancel();
    // Finished by the restarted process; none of its events ran meanwhile.
    await waitFor("the delete to finish", async () => {
      assert.equal(
        await count(kv, keys.executions("demo")),
        0,
        "an event of the deleted tenant ran",
      );
      return (await kv.get(keys.tenantDeletion("demo"))).versionstamp ===
          null &&
        (await tracesOf(kv, "demo")).length === 0;
    });
    // The id is free again, and starts from nothing.
    assert.equal(
      (await api("/api/v1/tenants", {
        method: "POST",
        body: JSON.stringify({ id: "demo" }),
      })).status,
      201,
    );
    await deployGreetOver(api);
    const { queues } = await (await api("/api/v1/tenants/demo/queues")).json();
    assert.ok(queues.length > 0);
    for (const q of queues) {
      assert.deepEqual(
        [q.depth, q.inFlight, q.delayed, q.dead, q.processed],
        [0, 0, 0, 0, 0],
        `queue ${q.id} of the new tenant`,
      );
    }
    // The other tenant's file, which shared the module's bytes, is whole.
    const other = await api("/api/v1/tenants/other/files/greet.wasm");
    assert.deepEqual(new Uint8Array(await other.arrayBuffer()), wasm);
  } finally {
    kv.close();
    await server.stop().catch(() => {});
    await Deno.remove(data, { recursive: true });
  }
});
