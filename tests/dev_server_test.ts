/**
 * `deno task dev` as a user runs it: main.ts in its own process, configured
 * by JOBICO_PORT, JOBICO_DATA and JOBICO_ADMIN_TOKEN, stopped by SIGTERM.
 */
import assert from "node:assert/strict";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";

const startDev = (env: Record<string, string>) => spawnServer(RUN_MAIN, env);

Deno.test("main.ts honours JOBICO_DATA, JOBICO_ADMIN_TOKEN and JOBICO_PORT, logs JSON lines and stops on SIGTERM", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-dev-" });
  try {
    const env = {
      JOBICO_DATA: data,
      JOBICO_ADMIN_TOKEN: "t0ken-dev-admin-token",
    };
    const first = await startDev(env);
    assert.equal(
      (await fetch(first.url + "/api/v1/tenants/demo/packages")).status,
      401,
    );
    const auth = { authorization: "Bearer t0ken-dev-admin-token" };
    await deployGreetOver((path, init) =>
      fetch(first.url + path, {
        ...init,
        headers: { ...init.headers, ...auth },
      })
    );
    const send = await fetch(first.url + "/events/demo/greet", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ data: [{ name: "Ada" }] }),
    });
    assert.equal(send.status, 200);
    const [id] = (await send.json()).ids;
    let execs: { eventId: string; status: string }[] = [];
    for (let i = 0; i < 500 && !execs.some((e) => e.eventId === id); i++) {
      await new Promise((r) => setTimeout(r, 20));
      execs =
        (await (await fetch(first.url + "/api/v1/tenants/demo/executions", {
          headers: auth,
        })).json()).executions;
    }
    assert.equal(execs.find((e) => e.eventId === id)?.status, "ok");
    const status = await first.stop();
    assert.equal(status.code, 0);
    // By default only requests answered with an error get a line.
    const requests = first.seen.filter((l) => l.msg === "request");
    assert.ok(
      requests.some((l) =>
        l.path === "/api/v1/tenants/demo/packages" && l.status === 401
      ),
    );
    assert.ok(requests.every((l) => (l.status as number) >= 400));
    assert.ok(first.seen.some((l) => l.msg === "shutting down"));
    await Deno.stat(`${data}/kv.sqlite3`);

    // Everything is still there after a restart on the same data directory.
    const second = await startDev(env);
    const after =
      await (await fetch(second.url + "/api/v1/tenants/demo/executions", {
        headers: auth,
      })).json();
    assert.ok(
      after.executions.some((e: { eventId: string }) => e.eventId === id),
    );
    assert.equal((await second.stop()).code, 0);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("without JOBICO_ADMIN_TOKEN, main.ts makes one into <data>/admin-token (mode 0600) and keeps it across restarts", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-dev-" });
  try {
    const first = await startDev({ JOBICO_DATA: data });
    const file = `${data}/admin-token`;
    const token = (await Deno.readTextFile(file)).trim();
    assert.ok(token.length >= 16);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const packages = (t?: string) =>
      fetch(first.url + "/api/v1/tenants", {
        headers: t ? { authorization: `Bearer ${t}` } : {},
      });
    let res = await packages();
    assert.equal(res.status, 401);
    await res.body?.cancel();
    res = await packages(token);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal((await first.stop()).code, 0);
    const second = await startDev({ JOBICO_DATA: data });
    assert.equal((await Deno.readTextFile(file)).trim(), token);
    res = await fetch(second.url + "/api/v1/tenants", {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal((await second.stop()).code, 0);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("with JOBICO_ACCESS_LOG=all, main.ts logs every request, and no line is lost at shutdown", async () => {
  const server = await startDev({
    JOBICO_DATA: ":memory:",
    JOBICO_ADMIN_TOKEN: "t0ken-dev-admin-token",
    JOBICO_ACCESS_LOG: "all",
  });
  for (let i = 0; i < 3; i++) {
    await (await fetch(server.url + "/healthz")).body?.cancel();
  }
  assert.equal((await server.stop()).code, 0);
  const lines = server.seen.filter((l) =>
    l.msg === "request" && l.path === "/healthz" && l.status === 200
  );
  assert.equal(lines.length, 3);
  assert.ok(server.seen.some((l) => l.msg === "shutting down"));
});

Deno.test("main.ts refuses a bad JOBICO_PORT with a message naming it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: RUN_MAIN,
    env: { JOBICO_PORT: "eighty", JOBICO_DATA: ":memory:" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /Invalid JOBICO_PORT "eighty"/,
  );
});
