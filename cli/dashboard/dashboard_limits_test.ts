/**
 * A queue's flow limits in the dashboard, on a real platform: the queue's
 * detail shows the keys holding a concurrency slot while they run, and the
 * rate limit's open windows.
 */
import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { JobicoClient } from "../client.ts";
import { DashboardModel } from "./dashboard_model.ts";
import { derive, initialView, layout } from "./dashboard_view.ts";

Deno.test("dashboard: a queue's detail shows its keys in flight and open rate windows", async () => {
  const h = await startHarness({ tenantConcurrency: 4 });
  const client = new JobicoClient({ url: h.url, token: h.adminToken });
  const model = new DashboardModel({ client, refreshMs: 60_000 });
  try {
    await h.upload("acme", "nap.wasm", await compileWat("nap"));
    await h.upload("acme", "any.json", "{}");
    await h.deploy(`id: lim
tenant: acme
queues: [{id: q}]
jobs:
  - event:
      id: charge
      schema: {id: s, schemaref: any.json}
      supplierqueue: q
      runtime: nap
      concurrency: {key: $.c, limit: 1}
      rateLimit: {limit: 9, period: 30d, key: $.c}
runtimes:
  - id: nap
    moduleref: nap.wasm
`);
    await h.send("acme", "charge", [{ c: "ada", ms: 3000 }]);
    await model.start();
    const lay = layout(120, 60);
    const view = initialView();
    view.open.set("t/acme", true);
    view.open.set("t/acme/queues", true);
    let shown = "";
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await model.refreshQueues("acme");
      const d0 = derive(model.snapshot(), view, lay);
      const row = d0.tree.find((r) => r.node.kind === "queue");
      assert.ok(row, "the queue in the tree");
      view.treeKey = row.key;
      const d = derive(model.snapshot(), view, lay);
      shown = d.detail.lines.map((l) => l.map((s) => s.text).join("")).join(
        "\n",
      );
      if (/^ {4}ada {2}1 of 1$/m.test(shown)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(shown, /^Limits {2}slots in use now, every process$/m);
    assert.match(shown, /^ {2}concurrency 1 per \$\.c: 1 keys running$/m);
    assert.match(shown, /^ {4}ada {2}1 of 1$/m);
    assert.match(shown, /^ {4}ada {2}1 of 9 until /m);
    await h.waitFor("acme", (es) => es.length === 1);
  } finally {
    await model.close();
    await h.close();
  }
});

Deno.test("dashboard: a queue's detail shows its schedules' next tick and last sent", async () => {
  const h = await startHarness({ workers: 1, minScheduleIntervalMs: 1000 });
  const client = new JobicoClient({ url: h.url, token: h.adminToken });
  const model = new DashboardModel({ client, refreshMs: 60_000 });
  try {
    await h.upload("acme", "echo.wasm", await compileWat("echo"));
    await h.upload("acme", "any.json", "{}");
    await h.deploy(`id: sch
tenant: acme
queues: [{id: q}]
jobs:
  - event:
      id: tick
      schema: {id: s, schemaref: any.json}
      supplierqueue: q
      runtime: echo
      schedule: {cron: "* * * * * *", timezone: Asia/Tokyo}
runtimes:
  - id: echo
    moduleref: echo.wasm
`);
    await model.start();
    const lay = layout(120, 60);
    const view = initialView();
    view.open.set("t/acme", true);
    view.open.set("t/acme/queues", true);
    let shown = "";
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await model.refreshQueues("acme");
      const d0 = derive(model.snapshot(), view, lay);
      const row = d0.tree.find((r) => r.node.kind === "queue");
      assert.ok(row, "the queue in the tree");
      view.treeKey = row.key;
      const d = derive(model.snapshot(), view, lay);
      shown = d.detail.lines.map((l) => l.map((s) => s.text).join("")).join(
        "\n",
      );
      if (/^ {2}last {2}.* sent$/m.test(shown)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(shown, /^Schedules {2}next tick, last sent$/m);
    assert.match(
      shown,
      /^Event tick \(sch v1\) -> queue q: \* \* \* \* \* \* \(Asia\/Tokyo\)$/m,
    );
    assert.match(shown, /^ {2}next {2}\d{4}-/m);
    assert.match(shown, /^ {2}last {2}\d{4}-.* sent$/m);
  } finally {
    await model.close();
    await h.close();
  }
});
