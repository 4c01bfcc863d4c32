/**
 * deploy.ts, the Deno Deploy entry point, run locally: it opens
 * `Deno.openKv()` with no path (the KV of its `--location`) and writes no
 * local files, and the whole platform works on it.
 */
import assert from "node:assert/strict";
import { authFetch } from "./_auth_fetch.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { spawnServer } from "./_spawn_server.ts";

const TOKEN = "deploy-entry-admin-token";

Deno.test("deploy.ts serves the platform on Deno.openKv() and needs JOBICO_ADMIN_TOKEN", async () => {
  const location = `http://jobico-deploy-test-${crypto.randomUUID()}.local/`;
  const info = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), {
        args: ["info", "--json", "--location", location],
        stdout: "piped",
      }).output()).stdout,
    ),
  );
  const args = [
    "run",
    "--config",
    new URL("../deno.json", import.meta.url).pathname,
    "--location",
    location,
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-sys=hostname,osRelease",
    new URL("../deploy.ts", import.meta.url).pathname,
  ];
  try {
    // No --allow-write: it cannot write a file, and needs none.
    const server = await spawnServer(args, { JOBICO_ADMIN_TOKEN: TOKEN });
    try {
      const api = authFetch(server.url, TOKEN);
      await deployGreetOver(api);
      const res = await api("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({ data: [{ name: "Ada" }] }),
      });
      assert.equal(res.status, 200);
      const [id] = (await res.json()).ids;
      let status = "";
      for (let i = 0; i < 200 && status !== "ok"; i++) {
        const page = await (await api("/api/v1/tenants/demo/executions"))
          .json();
        status = page.executions.find((e: { eventId: string }) =>
          e.eventId === id
        )?.status ?? "";
        if (status !== "ok") await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(status, "ok");
      assert.equal(
        (await (await fetch(server.url + "/meta")).json()).instance,
        "deploy",
      );
    } finally {
      await server.kill();
    }
    const missing = await new Deno.Command(Deno.execPath(), {
      args,
      env: { JOBICO_PORT: "0" },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(missing.code, 2);
    assert.match(
      new TextDecoder().decode(missing.stderr),
      /JOBICO_ADMIN_TOKEN is not set/,
    );
  } finally {
    await Deno.remove(info.originStorage, { recursive: true }).catch(() => {});
  }
});
