/**
 * Priorities end to end, on the real platform over HTTP: items are sent
 * to a listener-only platform (so that a backlog builds), then an
 * executor-only platform on the same store drains it: the order lives in
 * the store. Execution ids grow in the order executions finished, and
 * event ids start with the millisecond they were accepted in.
 */
import assert from "node:assert/strict";
import {
  type Harness,
  startHarness,
  storeTest as test,
  type TestStore,
} from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { type Platform, startPlatform } from "../components/platform.ts";
import type { Execution } from "../components/executions/execution.ts";

/** Deploys `tenant/prio`: event `job` on queue q, run by `wat`, with `more` on the event. */
async function deploy(
  h: Harness,
  tenant: string,
  wat: string,
  more = "",
): Promise<void> {
  await h.upload(tenant, `${wat}.wasm`, await compileWat(wat));
  await h.upload(tenant, "any.json", "{}");
  await h.deploy(`id: prio
tenant: ${tenant}
queues: [{id: q}]
jobs:
  - event:
      id: job
      schema: {id: s, schemaref: any.json}
      supplierqueue: q
      runtime: rt
${more}
runtimes:
  - id: rt
    moduleref: ${wat}.wasm
`);
}

/** Sends items with a query string; returns their event ids. */
async function send(
  h: Harness,
  tenant: string,
  query: string,
  items: unknown[],
): Promise<string[]> {
  const res = await h.api(`/events/${tenant}/job${query}`, {
    method: "POST",
    body: JSON.stringify({ data: items }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.ids;
}

/** A tenant's executions, polled until `n` succeeded (a generous deadline: a loaded machine). */
async function waitForRuns(
  h: Harness,
  tenant: string,
  n: number,
): Promise<Execution[]> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await h.api(
      `/api/v1/tenants/${tenant}/executions?limit=1000`,
    );
    const { executions } = await res.json() as { executions: Execution[] };
    const ok = executions.filter((e) => e.status === "ok");
    if (ok.length >= n) {
      return ok.sort((a, b) => a.id < b.id ? -1 : 1);
    }
    if (Date.now() > deadline) {
      throw new Error(`${ok.length} of ${n} executions of ${tenant} ran`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The millisecond an event id was made in (see goico/monotonic_id.ts). */
const acceptedAt = (eventId: string) => parseInt(eventId.slice(0, 9), 36);

async function withExecutor(
  h: Harness,
  agingMs: number,
  fn: (executor: Platform) => Promise<void>,
): Promise<void> {
  const executor = await startPlatform({
    kv: h.kv,
    adminToken: h.adminToken,
    port: 0,
    components: ["executor"],
    priorityAgingMs: agingMs,
  });
  try {
    await fn(executor);
  } finally {
    await executor.close();
  }
}

const LISTENER = ["ctl", "repo", "listener", "recorder"] as const;

test("priority: a backlog of low items, then normal and high ones: the highs run first, then normal, then low, each in order", async (store: TestStore) => {
  const h = await startHarness({ store, components: [...LISTENER] });
  try {
    // The event's own priority is low; requests raise theirs.
    await deploy(h, "acme", "echo", "      priority: low");
    const low = await send(h, "acme", "", [...Array(30).keys()]);
    const normal = await send(h, "acme", "?priority=normal", [1, 2, 3, 4, 5]);
    const high = [
      ...await send(h, "acme", "?priority=high", [1, 2, 3]),
      ...await send(h, "acme", "?priority=high", [4, 5]),
    ];
    // Aging far off: this test is about the order alone.
    await withExecutor(h, 600_000, async () => {
      const runs = await waitForRuns(h, "acme", 40);
      assert.deepEqual(
        runs.map((e) => e.eventId),
        [...high, ...normal, ...low],
      );
    });
  } finally {
    await h.close();
  }
});

test("priority: a flood of high items neither starves a low item past 2 × agingMs nor another tenant's item", async (store: TestStore) => {
  // Long enough for the highs ahead of the low item to run first on a
  // loaded machine.
  const agingMs = 2_000;
  const bound = 2 * agingMs;
  const h = await startHarness({ store, components: [...LISTENER] });
  try {
    // nap sleeps the ms its input's digits say: each high item takes 20 ms.
    await deploy(h, "acme", "nap");
    await deploy(h, "beta", "nap");
    await withExecutor(h, agingMs, async () => {
      // Highs ahead of the low item (older, and on the same level once it
      // aged: they stay ahead of it), then the low one and another
      // tenant's, then a flood of highs faster than they run, until the
      // low item ran and a second more.
      const before = await send(
        h,
        "acme",
        "?priority=high",
        Array(40).fill(20),
      );
      const [lowId] = await send(h, "acme", "?priority=low", [1]);
      const [betaId] = await send(h, "beta", "?priority=low", [1]);
      const t0 = acceptedAt(lowId);
      const after: string[] = [];
      let lowRan = false;
      const flood = (async () => {
        while (
          (!lowRan || Date.now() < t0 + bound + 1_000) && after.length < 800
        ) {
          after.push(
            ...await send(h, "acme", "?priority=high", Array(5).fill(20)),
          );
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const deadline = Date.now() + 90_000;
      while (!lowRan) {
        const res = await h.api(`/api/v1/tenants/acme/executions?limit=1000`);
        const { executions } = await res.json() as {
          executions: Execution[];
        };
        lowRan = executions.some((e) => e.eventId === lowId);
        if (Date.now() > deadline) throw new Error("the low item never ran");
        if (!lowRan) await new Promise((r) => setTimeout(r, 50));
      }
      await flood;
      const runs = await waitForRuns(
        h,
        "acme",
        before.length + 1 + after.length,
      );
      const order = runs.map((e) => e.eventId);
      const lowAt = order.indexOf(lowId);
      // The highs accepted before it ran before it.
      for (const id of before) assert.ok(order.indexOf(id) < lowAt, id);
      // Highs accepted after it ran before it while it aged: priority did
      // its part.
      const passed = after.filter((id) => order.indexOf(id) < lowAt);
      assert.ok(passed.length > 0, "later highs passed the low item");
      // None accepted once it had waited the bound (a few ms of slack: an
      // id's clock is read just before the item's acceptance time).
      const late = (id: string) => acceptedAt(id) > t0 + bound + 50;
      assert.deepEqual(passed.filter(late), []);
      // The flood went on past the bound: the aging, not an empty queue,
      // let it run.
      assert.ok(
        after.some((id) => late(id) && order.indexOf(id) > lowAt),
        "highs sent after the bound ran after the low item",
      );
      // Another tenant's item has its own queue: it does not wait for
      // acme's flood (it started before acme's low item, which waited at
      // least 2 × agingMs).
      const [beta] = await waitForRuns(h, "beta", 1);
      assert.equal(beta.eventId, betaId);
      assert.ok(
        Date.parse(beta.startedAt) <= Date.parse(runs[lowAt].startedAt),
        `beta started ${beta.startedAt}, acme's low item ${
          runs[lowAt].startedAt
        }`,
      );
    });
  } finally {
    await h.close();
  }
});

test("attack: ?priority=1e9, -1, NaN, a misspelling, empty or repeated is a 400 naming the parameter, and queues nothing", async (store: TestStore) => {
  const h = await startHarness({ store, components: [...LISTENER] });
  try {
    await deploy(h, "acme", "echo", "      priority: low");
    const [kept] = await send(h, "acme", "?priority=high", [1]);
    for (
      const query of [
        "?priority=1e9",
        "?priority=-1",
        "?priority=NaN",
        "?priority=hihg",
        "?priority=Infinity",
        "?priority=",
        "?priority=high&priority=high",
        `?priority=${"9".repeat(5_000)}`,
      ]
    ) {
      const res = await h.api(`/events/acme/job${query}`, {
        method: "POST",
        body: JSON.stringify({ data: [2] }),
      });
      assert.equal(res.status, 400, query.slice(0, 40));
      assert.equal(
        res.headers.get("content-type"),
        "application/problem+json",
      );
      const body = await res.json();
      assert.equal(body.errors[0].parameter, "priority", query.slice(0, 40));
    }
    // Only the good request's item waits, in the high band.
    const res = await h.api("/api/v1/tenants/acme/queues/q");
    assert.equal((await res.json()).depth, 1);
    await withExecutor(h, 600_000, async () => {
      const runs = await waitForRuns(h, "acme", 1);
      assert.deepEqual(runs.map((e) => e.eventId), [kept]);
    });
  } finally {
    await h.close();
  }
});
