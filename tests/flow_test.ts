/**
 * Schedules, delayed events, cancel and re-run end to end: the real server
 * on port 0, a real KV, the echo Jobicolet built from tests/jobicolets.
 */
import assert from "node:assert/strict";
import { type Harness, startHarness } from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import type { Execution } from "../components/executions/execution.ts";

const SCHEMA = JSON.stringify({
  type: "object",
  properties: {
    scheduledAt: { type: "string", format: "date-time" },
    payload: { type: "object" },
    n: { type: "integer" },
  },
  additionalProperties: false,
});

function pkg(tenant: string, schedule = ""): string {
  return `id: flow
tenant: ${tenant}
queues:
  - id: q
jobs:
  - event:
      id: work
      schema: { id: s, schemaref: any.json }
      supplierqueue: q
      runtime: echo
  - event:
      id: other
      schema: { id: s2, schemaref: any.json }
      supplierqueue: q
      runtime: echo
${schedule}
runtimes:
  - id: echo
    moduleref: echo.wasm
`;
}

async function createTenant(h: Harness, id: string): Promise<string> {
  const res = await h.api("/api/v1/tenants", {
    method: "POST",
    body: JSON.stringify({ id }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).token;
}

async function setUp(h: Harness, tenant: string, schedule = "") {
  await h.upload(tenant, "echo.wasm", await compileWat("echo"));
  await h.upload(tenant, "any.json", SCHEMA);
  await h.deploy(pkg(tenant, schedule));
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("a schedule runs the event by itself, each tick once, with its time and payload", async () => {
  const h = await startHarness({ workers: 1, minScheduleIntervalMs: 1000 });
  try {
    await h.upload("acme", "echo.wasm", await compileWat("echo"));
    await h.upload("acme", "any.json", SCHEMA);
    await h.deploy(pkg(
      "acme",
      `  - event:
      id: tick
      schema: { id: s3, schemaref: any.json }
      supplierqueue: q
      runtime: echo
      schedule: {cron: "* * * * * *", timezone: Europe/Madrid, payload: {report: daily}}`,
    ));
    const execs = await h.waitFor(
      "acme",
      (e) => e.filter((x) => x.event === "tick").length >= 3,
    );
    const ticks = execs.filter((x) => x.event === "tick").reverse();
    const times = ticks.map((t) =>
      (t.input as { scheduledAt: string }).scheduledAt
    );
    // Whole seconds, each once, in order.
    assert.deepEqual([...new Set(times)], times);
    assert.ok(times.every((t) => /:\d\d\.000Z$/.test(t)), times.join());
    assert.deepEqual([...times].sort(), times);
    for (const t of ticks) {
      assert.equal(t.status, "ok");
      assert.deepEqual(JSON.parse(t.result!), t.input);
      assert.deepEqual((t.input as { payload: unknown }).payload, {
        report: "daily",
      });
    }
    // The dry run shows a change of schedule.
    const plan = await (await h.api("/api/v1/packages?dryRun=true", {
      method: "POST",
      body: pkg(
        "acme",
        `  - event:
      id: tick
      schema: { id: s3, schemaref: any.json }
      supplierqueue: q
      runtime: echo
      schedule: "*/2 * * * * *"`,
      ),
      headers: { "content-type": "application/yaml" },
    })).json();
    assert.deepEqual(plan.changes, [{
      kind: "event",
      op: "changed",
      id: "tick",
      fields: [
        {
          field: "schedule",
          before: "* * * * * * (Europe/Madrid)",
          after: "*/2 * * * * *",
        },
        { field: "schedule.payload", before: '{"report":"daily"}' },
      ],
    }]);
  } finally {
    await h.close();
  }
});

Deno.test("a schedule under the default minimum is refused over HTTP with its line and column", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await h.upload("acme", "echo.wasm", await compileWat("echo"));
    await h.upload("acme", "any.json", SCHEMA);
    const res = await h.api("/api/v1/packages", {
      method: "POST",
      // The first event, every second.
      body: pkg("acme").replace(
        "      runtime: echo\n",
        '      runtime: echo\n      schedule: "* * * * * *"\n',
      ),
      headers: { "content-type": "application/yaml" },
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get("content-type")!, /problem\+json/);
    const body = await res.json();
    assert.deepEqual(
      body.issues.map((
        i: { path: string; line: number; col: number },
      ) => [i.path, i.line, i.col]),
      [
        ["jobs[0].event.schedule", 11, 17],
      ],
    );
    assert.match(
      body.issues[0].message,
      /fires every 1 s: schedules may fire at most once every 1 min/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("a delayed event waits, then runs; a cancelled one never runs", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await setUp(h, "acme");
    const send = (query: string, n: number) =>
      h.api(`/events/acme/work${query}`, {
        method: "POST",
        body: JSON.stringify({ data: [{ n }] }),
      });
    const started = Date.now();
    const later = await send("?delay=1500ms", 1);
    assert.equal(later.status, 200);
    const laterBody = await later.json();
    const runAt = Date.parse(laterBody.runAt);
    assert.ok(runAt >= started + 1500 && runAt <= Date.now() + 1500);
    const cancelled = await (await send(
      `?runAt=${new Date(Date.now() + 60_000).toISOString()}`,
      2,
    )).json();
    const now = await h.send("acme", "work", [{ n: 3 }]);
    // Both delayed items are listed, the one to cancel among them.
    const listed = await (await h.api("/api/v1/tenants/acme/queues/q/delayed"))
      .json();
    assert.deepEqual(
      listed.delayed.map((d: { id: string; event: string }) => [d.id, d.event]),
      [[laterBody.ids[0], "work"], [cancelled.ids[0], "work"]],
    );
    assert.equal(listed.delayed[1].runAt, cancelled.runAt);
    const res = await h.api(
      `/api/v1/tenants/acme/events/work/items/${cancelled.ids[0]}`,
      { method: "DELETE" },
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      id: cancelled.ids[0],
      event: "work",
      state: "delayed",
      runAt: cancelled.runAt,
    });
    // Once.
    const again = await h.api(
      `/api/v1/tenants/acme/events/work/items/${cancelled.ids[0]}`,
      { method: "DELETE" },
    );
    assert.equal(again.status, 404);
    assert.match((await again.json()).detail, /has no waiting or delayed item/);
    const execs = await h.waitFor("acme", (e) => e.length >= 2);
    const byInput = new Map(
      execs.map((e) => [(e.input as { n: number }).n, e]),
    );
    assert.equal(byInput.get(3)!.eventId, now[0]);
    const delayed = byInput.get(1)!;
    assert.equal(delayed.eventId, laterBody.ids[0]);
    assert.ok(
      Date.parse(delayed.startedAt) >= runAt,
      `${delayed.startedAt} before ${laterBody.runAt}`,
    );
    assert.equal(byInput.has(2), false);
    const q = await (await h.api("/api/v1/tenants/acme/queues/q")).json();
    assert.equal(q.depth + q.inFlight, 0);
  } finally {
    await h.close();
  }
});

Deno.test("attack: runAt in 1970, in 9999, NaN: 400 naming runAt, nothing queued", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await setUp(h, "acme");
    for (
      const [runAt, message] of [
        ["1970-01-01T00:00:00Z", /is in the past/],
        ["9999-12-31T23:59:59Z", /is too far ahead/],
        ["NaN", /Invalid runAt "NaN"/],
      ] as const
    ) {
      const res = await h.api(`/events/acme/work?runAt=${runAt}`, {
        method: "POST",
        body: JSON.stringify({ data: [{ n: 1 }] }),
      });
      assert.equal(res.status, 400, runAt);
      assert.match(res.headers.get("content-type")!, /problem\+json/);
      const body = await res.json();
      assert.match(body.detail, message);
      assert.deepEqual(
        body.errors.map((e: { parameter: string }) => e.parameter),
        ["runAt"],
      );
    }
    const delay = await h.api(`/events/acme/work?delay=NaN`, {
      method: "POST",
      body: JSON.stringify({ data: [{ n: 1 }] }),
    });
    assert.equal(delay.status, 400);
    assert.deepEqual((await delay.json()).errors[0].parameter, "delay");
    const q = await (await h.api("/api/v1/tenants/acme/queues/q")).json();
    assert.equal(q.depth, 0);
  } finally {
    await h.close();
  }
});

Deno.test("re-run sends a recorded execution's input again, marked rerunOf", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await setUp(h, "acme");
    await h.send("acme", "work", [{ n: 7 }]);
    const [first] = await h.waitFor("acme", (e) => e.length === 1);
    const res = await h.api(
      `/api/v1/tenants/acme/executions/${first.id}/rerun`,
      { method: "POST" },
    );
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.rerunOf, first.id);
    const execs = await h.waitFor("acme", (e) => e.length === 2);
    const rerun = execs.find((e: Execution) => e.id !== first.id)!;
    assert.equal(rerun.eventId, body.ids[0]);
    assert.equal(rerun.rerunOf, first.id);
    assert.deepEqual(rerun.input, { n: 7 });
    assert.equal(rerun.result, first.result);
    // An execution that does not exist.
    const missing = await h.api(
      `/api/v1/tenants/acme/executions/${"0".repeat(19)}/rerun`,
      { method: "POST" },
    );
    assert.equal(missing.status, 404);
    const bad = await h.api(
      `/api/v1/tenants/acme/executions/..%2F..%2Fx/rerun`,
      { method: "POST" },
    );
    assert.equal(bad.status, 400);
  } finally {
    await h.close();
  }
});

Deno.test("attack: cancel another tenant's event, re-run another tenant's execution", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    const acme = await createTenant(h, "acme");
    const evil = await createTenant(h, "evil");
    await setUp(h, "acme");
    await setUp(h, "evil");
    const delayed = await (await h.api("/events/acme/work?delay=1h", {
      method: "POST",
      body: JSON.stringify({ data: [{ n: 1 }] }),
      headers: bearer(acme),
    })).json();
    await h.send("acme", "work", [{ n: 2 }]);
    const [exec] = await h.waitFor("acme", (e) => e.length === 1);
    const id = delayed.ids[0];
    // With evil's token on acme's paths: 403, nothing done.
    for (
      const [method, path] of [
        ["DELETE", `/api/v1/tenants/acme/events/work/items/${id}`],
        ["GET", `/api/v1/tenants/acme/queues/q/delayed`],
        ["POST", `/api/v1/tenants/acme/executions/${exec.id}/rerun`],
      ]
    ) {
      const res = await h.api(path, { method, headers: bearer(evil) });
      assert.equal(res.status, 403, `${method} ${path}`);
      await res.body?.cancel();
    }
    // Acme's ids on evil's own paths: not found there.
    const cancel = await h.api(`/api/v1/tenants/evil/events/work/items/${id}`, {
      method: "DELETE",
      headers: bearer(evil),
    });
    assert.equal(cancel.status, 404);
    await cancel.body?.cancel();
    const rerun = await h.api(
      `/api/v1/tenants/evil/executions/${exec.id}/rerun`,
      {
        method: "POST",
        headers: bearer(evil),
      },
    );
    assert.equal(rerun.status, 404);
    await rerun.body?.cancel();
    // Without a token: 401.
    const anon = await h.api(`/api/v1/tenants/acme/events/work/items/${id}`, {
      method: "DELETE",
      headers: { authorization: "" },
    });
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    // The same id through another event of the same queue: not that event's.
    const other = await h.api(`/api/v1/tenants/acme/events/other/items/${id}`, {
      method: "DELETE",
      headers: bearer(acme),
    });
    assert.equal(other.status, 404);
    await other.body?.cancel();
    // Acme's item is still there; acme may cancel it.
    const own = await h.api(`/api/v1/tenants/acme/events/work/items/${id}`, {
      method: "DELETE",
      headers: bearer(acme),
    });
    assert.equal(own.status, 200);
    await own.body?.cancel();
    assert.equal((await h.waitFor("evil", () => true)).length, 0);
  } finally {
    await h.close();
  }
});
