/**
 * Three platform processes on one PostgreSQL, as three machines would run
 * them (each its own data directory; the admin token and the secret key
 * given to all):
 *
 *   node 1  ctl, repo, recorder, listener
 *   node 2  listener, executor
 *   node 3  executor
 *
 * Events sent to both listeners run once each; a redeploy made through
 * node 1 and a new event reach the other nodes through NOTIFY (well under
 * the change feed's 500 ms poll); node 2 is SIGKILLed in the middle of a
 * load and nothing it had accepted is lost or run twice.
 */
import assert from "node:assert/strict";
import { pgTestDatabase, pgTestUrl } from "@jobico/goico/testing";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { examples } from "../components/server/_test_platform.ts";
import { RUN_CLI } from "./_run_main.ts";
import { type SpawnedServer, spawnServer } from "./_spawn_server.ts";
import { authFetch } from "./_auth_fetch.ts";

const PG = await pgTestUrl();
const TOKEN = "multi-node-admin-token";
const SECRET_KEY = "ab".repeat(32);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

Deno.test({
  name:
    "three nodes on one PostgreSQL: every accepted event runs once, a SIGKILLed node loses nothing, changes reach all nodes at once",
  ignore: !PG,
  fn: async () => {
    const store = await pgTestDatabase();
    const dirs: string[] = [];
    const nodes: SpawnedServer[] = [];
    const serve = async (components: string, ...more: string[]) => {
      const data = await Deno.makeTempDir({ prefix: "jobico-node-" });
      dirs.push(data);
      const node = await spawnServer([
        ...RUN_CLI,
        "serve",
        "--store",
        store,
        "--data",
        data,
        "--components",
        components,
        "--lease-ms",
        "1000",
        ...more,
      ], {
        JOBICO_ADMIN_TOKEN: TOKEN,
        JOBICO_SECRET_KEY: SECRET_KEY,
        JOBICO_LOG_LEVEL: "info",
      });
      nodes.push(node);
      return node;
    };
    try {
      // Three nodes starting at once apply the schema once between them.
      const [n1, n2, n3] = await Promise.all([
        serve("ctl,repo,recorder,listener"),
        serve("listener,executor", "--workers", "2"),
        serve("executor", "--workers", "2"),
      ]);
      const api1 = authFetch(n1.url, TOKEN);
      const api2 = authFetch(n2.url, TOKEN);
      await deployGreetOver(api1);
      type Sent = { status: number; ids: string[] };
      const send = async (
        api: typeof api1,
        items: unknown[],
      ): Promise<Sent> => {
        const res = await api("/events/demo/greet", {
          method: "POST",
          body: JSON.stringify({ data: items }),
        });
        const body = await res.json();
        return { status: res.status, ids: body.ids ?? [] };
      };
      const executions = async () =>
        (await (await api1(
          "/api/v1/tenants/demo/executions?event=greet&limit=1000",
        )).json()).executions as {
          eventId: string;
          status: string;
          startedAt: string;
        }[];

      // A new event reaches an executor node at once: its execution starts
      // within milliseconds of being accepted (a poll would take ~250 ms
      // in the median).
      const latencies: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = Date.now();
        const { ids } = await send(i % 2 ? api2 : api1, [{ name: `l${i}` }]);
        const deadline = Date.now() + 20_000;
        let found: { startedAt: string } | undefined;
        while (!found && Date.now() < deadline) {
          found = (await executions()).find((e) => e.eventId === ids[0]);
          if (!found) await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(found, `event ${ids[0]} never ran`);
        latencies.push(Date.parse(found.startedAt) - t0);
      }
      console.log(
        `a new event started ${latencies.join(", ")} ms after it was sent`,
      );
      assert.ok(median(latencies) < 150, `median ${median(latencies)} ms`);

      // A redeploy through node 1 reaches node 2's listener at once.
      const strict = JSON.parse(
        await Deno.readTextFile(new URL("greet.schema.json", examples)),
      );
      const yaml = await Deno.readTextFile(new URL("job.yaml", examples));
      const reached: number[] = [];
      for (let i = 0; i < 5; i++) {
        // Alternately require "lang" and not: the old schema accepts
        // {name}, the new one refuses it (and the next round the reverse).
        const requireLang = i % 2 === 0;
        const schema = {
          ...strict,
          properties: { ...strict.properties, lang: { type: "string" } },
          required: requireLang ? ["name", "lang"] : ["name"],
        };
        const name = `s${i}.schema.json`;
        const put = await api1(`/api/v1/tenants/demo/files/${name}`, {
          method: "PUT",
          body: JSON.stringify(schema),
        });
        assert.equal(put.status, 201);
        await put.body?.cancel();
        const deployed = await api1("/api/v1/packages", {
          method: "POST",
          headers: { "content-type": "application/yaml" },
          body: yaml.replace(
            "schemaref: greet.schema.json",
            `schemaref: ${name}`,
          ),
        });
        assert.equal(deployed.status, 201);
        await deployed.body?.cancel();
        const t0 = performance.now();
        const want = requireLang ? 400 : 200;
        for (;;) {
          const res = await api2("/events/demo/greet", {
            method: "POST",
            body: JSON.stringify({ data: [{ name: `r${i}`, lang: "x" }] }),
          });
          await res.body?.cancel();
          // The probe itself must stay valid: then test the boundary.
          const probe = await api2("/events/demo/greet", {
            method: "POST",
            body: JSON.stringify({ data: [{ name: `p${i}` }] }),
          });
          await probe.body?.cancel();
          if (probe.status === want) break;
          assert.ok(
            performance.now() - t0 < 10_000,
            "node 2 never saw the redeploy",
          );
          await new Promise((r) => setTimeout(r, 2));
        }
        reached.push(Math.round(performance.now() - t0));
      }
      console.log(`redeploys reached node 2 in ${reached.join(", ")} ms`);
      assert.ok(median(reached) < 150, `median ${median(reached)} ms`);

      // Load on both listeners; node 2 (a listener and an executor) is
      // SIGKILLed while events wait and run.
      const accepted: string[] = [];
      const batch = (round: number) =>
        Array.from(
          { length: 50 },
          (_, j) => ({ name: `n${round}-${j}`, lang: "en" }),
        );
      const first = await Promise.all(
        Array.from(
          { length: 8 },
          (_, round) => send(round % 2 ? api2 : api1, batch(round)),
        ),
      );
      for (const r of first) {
        assert.equal(r.status, 200);
        accepted.push(...r.ids);
      }
      // Once both executors are at work, node 2 dies.
      const ran = async () =>
        (await executions()).filter((e) => accepted.includes(e.eventId))
          .length;
      const started = Date.now() + 20_000;
      while (await ran() < 40 && Date.now() < started) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await n2.kill();
      const ranBeforeKill = await ran();
      // The kill came while work was left (else it would prove nothing).
      assert.ok(ranBeforeKill < accepted.length, "all had run already");
      for (let round = 8; round < 12; round++) {
        const r = await send(api1, batch(round));
        assert.equal(r.status, 200);
        accepted.push(...r.ids);
      }
      const want = new Set(accepted);
      const deadline = Date.now() + 60_000;
      let runs = new Map<string, number>();
      let okCount = 0;
      while (Date.now() < deadline) {
        runs = new Map();
        okCount = 0;
        for (const e of await executions()) {
          if (!want.has(e.eventId)) continue;
          runs.set(e.eventId, (runs.get(e.eventId) ?? 0) + 1);
          if (e.status === "ok") okCount++;
        }
        if (runs.size === want.size) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      console.log(
        `${want.size} events accepted by two listeners, node 2 killed when ${ranBeforeKill} had run: ${runs.size} ran`,
      );
      assert.equal(runs.size, want.size, "accepted events were lost");
      assert.deepEqual(
        [...runs.values()].filter((n) => n !== 1),
        [],
        "an event ran more than once",
      );
      assert.equal(okCount, want.size);
      // The survivors are still serving.
      assert.equal((await send(api1, [{ name: "z", lang: "en" }])).status, 200);
      assert.equal((await n3.stop()).code, 0);
    } finally {
      for (const n of nodes) await n.kill().catch(() => {});
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    }
  },
});
