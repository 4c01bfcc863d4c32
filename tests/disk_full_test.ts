/**
 * A full disk: the platform runs in its own process on a data directory in
 * a small tmpfs, which is filled up while events are queued. Events must
 * be refused with 503 and Retry-After (not 500), /healthz must say the
 * store fails, the process must not spin retrying commits, and once space
 * returns it must recover by itself, every accepted event run once.
 *
 * Mounting a tmpfs needs root: the test is skipped otherwise (CI runs as
 * root).
 */
import assert from "node:assert/strict";
import { authFetch } from "./_auth_fetch.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";
import { cpuSeconds, fillDisk, isRoot, mountTmpfs } from "./_tmpfs.ts";

const TOKEN = "disk-full-admin-token-0123";

Deno.test({
  name:
    "disk full: 503 with Retry-After, /healthz failing, no spinning, and recovery with no accepted event lost",
  ignore: !isRoot(),
  async fn() {
    const mnt = await mountTmpfs("8m");
    const server = await spawnServer(RUN_MAIN, {
      JOBICO_DATA: `${mnt.dir}/data`,
      JOBICO_ADMIN_TOKEN: TOKEN,
      JOBICO_LOG_LEVEL: "info",
      JOBICO_WORKERS: "1",
    }).catch(async (err) => {
      await mnt.unmount();
      throw err;
    });
    const api = authFetch(server.url, TOKEN);
    const accepted: string[] = [];
    const send = async (i: number) => {
      const res = await api("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({
          data: Array.from({ length: 50 }, (_, j) => ({
            name: `${"n".repeat(80)}-${i}-${j}`,
          })),
        }),
      });
      if (res.status === 200) accepted.push(...(await res.json()).ids);
      return res;
    };
    try {
      await deployGreetOver(api);
      for (let i = 0; i < 5; i++) assert.equal((await send(i)).status, 200);
      // Fill the disk but 1 MiB, then send until the store refuses: the
      // events accepted last are queued while the executor cannot record.
      await fillDisk(mnt.dir, 1024 * 1024);
      let refused: Response | undefined;
      for (let i = 5; i < 400 && !refused; i++) {
        const res = await send(i);
        if (res.status !== 200) refused = res;
      }
      assert.ok(refused, "the store never refused a write");
      const body = await refused.json();
      assert.equal(refused.status, 503, JSON.stringify(body));
      assert.match(
        refused.headers.get("content-type") ?? "",
        /application\/problem\+json/,
      );
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
      assert.equal(body.status, 503);
      assert.equal(body.store, "full");
      assert.match(body.detail, /store is full.*try again in \d+ s/);

      const health = await fetch(server.url + "/healthz");
      const h = await health.json();
      assert.equal(health.status, 503, JSON.stringify(h));
      assert.equal(h.status, "failing");
      assert.match(h.checks.kv, /^failing: .*full/);

      // CPU of the server over 3 s while the disk stays full.
      const before = cpuSeconds(server.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 3000));
      const cores = (cpuSeconds(server.pid) - before) /
        ((performance.now() - t0) / 1000);
      console.log(
        `disk full: the server used ${
          (cores * 100).toFixed(1)
        }% of a core while the disk was full (${accepted.length} events accepted)`,
      );
      // It spun at ~90-99% of a core retrying commits; backing off, ~2%.
      assert.ok(cores < 0.25, `the server spins: ${cores} cores`);
      assert.equal((await send(1000)).status, 503);

      // Space returns: the platform recovers by itself.
      await mnt.free();
      const deadline = Date.now() + 60_000;
      let ok = false;
      while (!ok && Date.now() < deadline) {
        const res = await fetch(server.url + "/healthz");
        await res.body?.cancel();
        ok = res.status === 200;
        if (!ok) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ok, "/healthz did not recover");
      assert.equal((await send(2000)).status, 200);

      const runs = new Map<string, string[]>();
      while (Date.now() < deadline) {
        runs.clear();
        let cursor = "";
        for (;;) {
          const page = await (await api(
            `/api/v1/tenants/demo/executions?limit=1000&event=greet${cursor}`,
          )).json();
          for (const e of page.executions) {
            runs.set(e.eventId, [...(runs.get(e.eventId) ?? []), e.status]);
          }
          if (!page.cursor) break;
          cursor = `&cursor=${page.cursor}`;
        }
        if (accepted.every((id) => runs.has(id))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const missing = accepted.filter((id) => !runs.has(id));
      assert.deepEqual(missing, [], `${missing.length} accepted events lost`);
      for (const id of accepted) {
        assert.deepEqual(runs.get(id), ["ok"], `event ${id}`);
      }
    } finally {
      await server.stop();
      await mnt.unmount();
    }
  },
});
