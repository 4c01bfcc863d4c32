/**
 * Rate limits (throttle and reject) and debounce end to end: the real
 * server on port 0, a real store (Deno KV, and PostgreSQL when there is
 * one), the echo Jobicolet built from tests/jobicolets; two platforms on
 * one store for what holds across processes.
 */
import assert from "node:assert/strict";
import { openPgKv } from "@jobico/goico";
import { pgTestDatabase } from "@jobico/goico/testing";
import {
  type Harness,
  startHarness,
  storeTest as test,
  type TestStore,
} from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { type Platform, startPlatform } from "../components/platform.ts";
import { TEST_ADMIN_TOKEN } from "../components/server/_test_platform.ts";

const SCHEMA = JSON.stringify({ type: "object" });

/** A package whose event `work` has `flow` (YAML under the event). */
function pkg(tenant: string, flow: string): string {
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
${flow}
runtimes:
  - id: echo
    moduleref: echo.wasm
`;
}

type Api = (path: string, init?: RequestInit) => Promise<Response>;

async function setUp(api: Api, flow: string, tenant = "acme") {
  for (
    const [name, body] of [
      ["echo.wasm", await compileWat("echo")],
      ["any.json", new TextEncoder().encode(SCHEMA)],
    ] as const
  ) {
    const res = await api(`/api/v1/tenants/${tenant}/files/${name}`, {
      method: "PUT",
      body: body as Uint8Array<ArrayBuffer>,
    });
    assert.ok(res.ok, await res.text());
  }
  const res = await api("/api/v1/packages", {
    method: "POST",
    body: pkg(tenant, flow),
    headers: { "content-type": "application/yaml" },
  });
  assert.equal(res.status, 201, await res.text());
}

function post(api: Api, items: unknown[], query = "") {
  return api(`/events/acme/work${query}`, {
    method: "POST",
    body: JSON.stringify({ data: items }),
  });
}

async function delayed(api: Api): Promise<{ id: string; runAt: string }[]> {
  const out: { id: string; runAt: string }[] = [];
  let cursor = "";
  for (;;) {
    const page = await (await api(
      `/api/v1/tenants/acme/queues/q/delayed?limit=100${
        cursor ? `&cursor=${cursor}` : ""
      }`,
    )).json();
    out.push(...page.delayed);
    if (!page.cursor) return out;
    cursor = page.cursor;
  }
}

/** Sends `n` requests, `concurrency` at a time, spread over `apis`; the statuses. */
async function burst(
  apis: Api[],
  n: number,
  item: (i: number) => unknown,
  concurrency = 100,
): Promise<number[]> {
  const statuses: number[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await post(apis[i % apis.length], [item(i)]);
        statuses[i] = res.status;
        await res.body?.cancel();
      }
    }),
  );
  return statuses;
}

const count = (statuses: number[], status: number) =>
  statuses.filter((s) => s === status).length;

test("reject: over the limit a 429 naming it, with Retry-After; other keys pass; counted in metrics", async (store) => {
  const h = await startHarness({ workers: 1, store });
  try {
    await setUp(
      h.api,
      "      rateLimit: {limit: 3, period: 30d, key: $.customer, mode: reject}",
    );
    assert.equal(
      (await post(h.api, [{ customer: "c1" }, { customer: "c1" }])).status,
      200,
    );
    assert.equal((await post(h.api, [{ customer: "c1" }])).status, 200);
    const refused = await post(h.api, [{ customer: "c1" }, { customer: "c2" }]);
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get("content-type")!, /problem\+json/);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 30 * 86_400, String(retryAfter));
    const problem = await refused.json();
    assert.match(
      problem.detail,
      /Event "work" of tenant "acme" is limited to 3 per 30d for \$\.customer "c1": 3 of 3 were taken in this window/,
    );
    assert.equal(problem.limit, 3);
    assert.equal(problem.period, "30d");
    assert.equal(problem.key, "$.customer");
    assert.equal(problem.keyValue, "c1");
    // The refused request's c2 item was not queued: refused whole.
    assert.equal((await post(h.api, [{ customer: "c2" }])).status, 200);
    // More than a window takes, at once: refused too.
    const tooMany = await post(h.api, Array(4).fill({ customer: "c3" }));
    assert.equal(tooMany.status, 429);
    assert.match((await tooMany.json()).detail, /this request has 4 items/);
    const execs = await h.waitFor("acme", (e) => e.length === 4);
    assert.deepEqual(
      execs.map((e) => (e.input as { customer: string }).customer).sort(),
      ["c1", "c1", "c1", "c2"],
    );
    const metrics = await (await h.api("/metrics")).text();
    assert.match(
      metrics,
      /jobico_events_rejected_total\{tenant="acme",reason="rate_limited"\} 2/,
    );
    // The dry run of a changed limit shows it.
    const plan = await (await h.api("/api/v1/packages?dryRun=true", {
      method: "POST",
      body: pkg("acme", "      rateLimit: {limit: 10, period: 1m}"),
      headers: { "content-type": "application/yaml" },
    })).json();
    assert.deepEqual(plan.changes, [{
      kind: "event",
      op: "changed",
      id: "work",
      fields: [{
        field: "rateLimit",
        before: "3 per 30d by $.customer (reject)",
        after: "10 per 1m (throttle)",
      }],
    }]);
  } finally {
    await h.close();
  }
});

test("throttle: items over the limit wait for their window, shown as delayed, and run in order", async (store) => {
  const h = await startHarness({ workers: 1, store });
  try {
    await setUp(h.api, "      rateLimit: {limit: 2, period: 1s, key: $.k}");
    const started = Date.now();
    const res = await post(h.api, [0, 1, 2, 3, 4].map((n) => ({ k: "a", n })));
    assert.equal(res.status, 200);
    const body = await res.json();
    // The last item's window opens 2 to 3 s from now.
    const runAt = Date.parse(body.runAt);
    assert.ok(
      runAt >= started + 1000 && runAt <= Date.now() + 3000,
      body.runAt,
    );
    // Another key is not held back.
    await h.send("acme", "work", [{ k: "b", n: 9 }]);
    const waiting = await delayed(h.api);
    assert.ok(
      waiting.length >= 1 && waiting.length <= 3,
      String(waiting.length),
    );
    const execs = await h.waitFor("acme", (e) => e.length === 6);
    // Two items of one window can start in the same millisecond: the
    // event id (drawn in acceptance order) breaks the tie.
    const a = execs.filter((e) => (e.input as { k: string }).k === "a")
      .sort((x, y) =>
        x.startedAt.localeCompare(y.startedAt) ||
        x.eventId.localeCompare(y.eventId)
      );
    assert.deepEqual(a.map((e) => (e.input as { n: number }).n), [
      0,
      1,
      2,
      3,
      4,
    ]);
    // None ran before its window opened: two now, two a second later, the
    // last at runAt (a loaded machine may run them later, never sooner).
    const at = a.map((e) => Date.parse(e.startedAt));
    assert.ok(at[2] >= runAt - 1000 && at[3] >= runAt - 1000, `${at} ${runAt}`);
    assert.ok(at[4] >= runAt, `${at} ${runAt}`);
    const metrics = await (await h.api("/metrics")).text();
    assert.match(
      metrics,
      /jobico_events_flow_total\{tenant="acme",event="work",action="throttled"\} 3/,
    );
  } finally {
    await h.close();
  }
});

test("debounce: a burst of one key runs once, with the last item (keep last) or the first (keep first)", async (store) => {
  for (const keep of ["last", "first"] as const) {
    const h = await startHarness({ workers: 1, store });
    try {
      // The period outlasts the burst and the check of what waits on a busy
      // machine (the first item's run time is fixed for keep first).
      await setUp(
        h.api,
        `      debounce: {period: 4s, key: $.id, keep: ${keep}}`,
      );
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) {
        const res = await post(h.api, [{ id: "doc-1", n }]);
        assert.equal(res.status, 200);
        const body = await res.json();
        ids.push(body.ids[0]);
        assert.ok(Date.parse(body.runAt) > Date.now());
      }
      // Another key is its own burst: two items in one request, one runs.
      const other = await (await post(h.api, [{ id: "doc-2", n: 10 }, {
        id: "doc-2",
        n: 11,
      }])).json();
      assert.equal(other.ids[0], other.ids[1]);
      // Waiting as one delayed item per key.
      const waiting = await delayed(h.api);
      assert.equal(waiting.length, 2);
      if (keep === "first") assert.equal(new Set(ids).size, 1);
      else assert.equal(new Set(ids).size, 5);
      const execs = await h.waitFor("acme", (e) => e.length === 2);
      const doc1 = execs.find((e) =>
        (e.input as { id: string }).id === "doc-1"
      )!;
      const doc2 = execs.find((e) =>
        (e.input as { id: string }).id === "doc-2"
      )!;
      assert.equal((doc1.input as { n: number }).n, keep === "last" ? 4 : 0);
      assert.equal(doc1.eventId, keep === "last" ? ids[4] : ids[0]);
      assert.equal((doc2.input as { n: number }).n, keep === "last" ? 11 : 10);
      // Nothing else waits: the replaced items left the queue.
      const q = await (await h.api("/api/v1/tenants/acme/queues/q")).json();
      assert.equal(q.depth + q.inFlight, 0);
      const metrics = await (await h.api("/metrics")).text();
      assert.match(
        metrics,
        /jobico_events_flow_total\{tenant="acme",event="work",action="debounced"\} 5/,
      );
    } finally {
      await h.close();
    }
  }
});

/** Two platforms on one store (on PostgreSQL, each with its own connection). */
async function twoPlatforms(store: TestStore) {
  let kvs: Deno.Kv[];
  if (store === "postgres") {
    const url = await pgTestDatabase();
    kvs = [await openPgKv(url), await openPgKv(url)];
  } else {
    const kv = await Deno.openKv(":memory:");
    kvs = [kv, kv];
  }
  const platforms: Platform[] = [];
  for (const kv of kvs) {
    platforms.push(
      await startPlatform({
        kv,
        port: 0,
        adminToken: TEST_ADMIN_TOKEN,
        workers: 1,
      }),
    );
  }
  const apis: Api[] = platforms.map((p) => (path, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${TEST_ADMIN_TOKEN}`);
    return fetch(p.url + path, { ...init, headers });
  });
  return {
    apis,
    close: async () => {
      for (const p of platforms) await p.close();
      for (const kv of new Set(kvs)) {
        if (store === "postgres") {
          await (kv as Deno.Kv & { closed(): Promise<void> }).closed();
        } else kv.close();
      }
    },
  };
}

test("two platforms on one store: a reject limit, a throttle and a debounce hold across them under concurrent bursts", async (store) => {
  const w = await twoPlatforms(store);
  try {
    await setUp(
      w.apis[0],
      "      rateLimit: {limit: 25, period: 30d, mode: reject}",
    );
    const statuses = await burst(w.apis, 120, (n) => ({ n }), 40);
    assert.equal(count(statuses, 200), 25, JSON.stringify(statuses));
    assert.equal(count(statuses, 429), 95);
    // Throttled: the windows are shared, ten items each.
    const deploy = (flow: string) =>
      w.apis[0]("/api/v1/packages", {
        method: "POST",
        body: pkg("acme", flow),
        headers: { "content-type": "application/yaml" },
      }).then(async (r) => assert.equal(r.status, 201, await r.text()));
    await deploy("      rateLimit: {limit: 10, period: 1h, key: $.k}");
    // Both platforms route the new version before the burst.
    const before = (await delayed(w.apis[0])).length;
    const throttled = await burst(w.apis, 30, (n) => ({ k: "x", n }), 30);
    assert.equal(count(throttled, 200), 30, JSON.stringify(throttled));
    const windows = new Map<string, number>();
    for (const d of (await delayed(w.apis[1])).slice(before)) {
      windows.set(d.runAt, (windows.get(d.runAt) ?? 0) + 1);
    }
    // Some ran now (at most ten, in the current hour), the rest in later hours.
    assert.ok(
      [...windows.values()].every((n) => n <= 10),
      JSON.stringify([...windows]),
    );
    assert.ok(windows.size >= 2, JSON.stringify([...windows]));
    // Debounced: one delayed item, whoever received the requests.
    await deploy("      debounce: {period: 1h, key: $.doc}");
    const waiting = (await delayed(w.apis[0])).length;
    const debounced = await burst(w.apis, 40, (n) => ({ doc: "d", n }), 40);
    assert.equal(count(debounced, 200), 40);
    assert.equal((await delayed(w.apis[1])).length, waiting + 1);
  } finally {
    await w.close();
  }
});

test("attack: 1,000 distinct keys, each limited alone; 41 keys in one request is a 413", async (store) => {
  const h = await startHarness({ workers: 1, store });
  try {
    await setUp(
      h.api,
      "      rateLimit: {limit: 1, period: 30d, key: $.k, mode: reject}",
    );
    const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`);
    for (let i = 0; i < 1000; i += 40) {
      const res = await post(h.api, keys.slice(i, i + 40).map((k) => ({ k })));
      assert.equal(res.status, 200, await res.text());
    }
    // Each key's window is full; one item of any key is refused.
    for (const k of ["key-0", "key-500", "key-999"]) {
      const res = await post(h.api, [{ k }]);
      assert.equal(res.status, 429);
      await res.body?.cancel();
    }
    const wide = await post(
      h.api,
      Array.from({ length: 41 }, (_, i) => ({ k: `new-${i}` })),
    );
    assert.equal(wide.status, 413);
    assert.match(
      (await wide.json()).detail,
      /more than 40 distinct values of key "\$\.k" \(at item 40\)/,
    );
    assert.equal((await post(h.api, [{ k: "new-0" }])).status, 200);
    // One small record per key.
    const records = await Array.fromAsync(
      h.kv.list({ prefix: ["flowstate", "acme"] }),
    );
    assert.equal(records.length, 1001);
  } finally {
    await h.close();
  }
});

test("attack: a debounce takes 30 distinct keys a request, again and again; 31 is a 413", async (store) => {
  const h = await startHarness({ workers: 1, store });
  try {
    await setUp(h.api, "      debounce: {period: 1h, key: $.k}");
    const items = Array.from({ length: 30 }, (_, i) => ({ k: `key-${i}` }));
    // The second time each key's delayed item is replaced: three checks a key.
    for (let round = 0; round < 2; round++) {
      const res = await post(h.api, items);
      assert.equal(res.status, 200, await res.text());
    }
    assert.equal((await delayed(h.api)).length, 30);
    const wide = await post(h.api, [...items, { k: "key-30" }]);
    assert.equal(wide.status, 413);
    assert.match(
      (await wide.json()).detail,
      /more than 30 distinct values of key "\$\.k" \(at item 30\)/,
    );
    assert.equal((await delayed(h.api)).length, 30);
  } finally {
    await h.close();
  }
});

test("attack: a key path that yields a huge string or object keys by its sha-256", async (store) => {
  const h = await startHarness({ workers: 1, store });
  try {
    await setUp(
      h.api,
      "      rateLimit: {limit: 1, period: 30d, key: $.k, mode: reject}",
    );
    const huge = "x".repeat(60_000);
    const big = { nested: Array.from({ length: 2000 }, (_, i) => ({ i })) };
    for (const k of [huge, big]) {
      const first = await post(h.api, [{ k }]);
      assert.equal(first.status, 200, await first.text());
      const again = await post(h.api, [{ k }]);
      assert.equal(again.status, 429);
      const detail = (await again.json()).detail as string;
      assert.ok(detail.length < 500, detail);
      assert.match(detail, /"#[0-9a-f]{64}"/);
    }
    for await (const e of h.kv.list({ prefix: ["flowstate", "acme"] })) {
      assert.ok(String(e.key[4]).length <= 128, String(e.key[4]).slice(0, 80));
    }
  } finally {
    await h.close();
  }
});

test("attack: a burst of 10,000 requests against one key: exactly the limit gets through", async (store) => {
  const h = await startHarness({ workers: 1, store });
  try {
    await setUp(
      h.api,
      "      rateLimit: {limit: 100, period: 30d, key: $.k, mode: reject}",
    );
    const statuses = await burst([h.api], 10_000, () => ({ k: "hot" }), 100);
    assert.equal(count(statuses, 200), 100);
    assert.equal(count(statuses, 429), 9_900);
    await h.waitFor("acme", (e) => e.length === 100);
  } finally {
    await h.close();
  }
});

test("attack: throttled backlog under the default max delay: items past 30 days are a 429, nothing of them queued", async (store) => {
  const h = await startHarness({ workers: 1, store });
  try {
    await setUp(h.api, "      rateLimit: {limit: 1, period: 30d, key: $.k}");
    // Now, and at the next window (within 30 days): accepted.
    const ok = await post(h.api, [{ k: "a" }, { k: "a" }]);
    assert.equal(ok.status, 200, await ok.text());
    const refused = await post(h.api, [{ k: "a" }]);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    assert.match(
      (await refused.json()).detail,
      /is throttled to 1 per 30d .* past the furthest an event may wait/,
    );
    // The first ran; the second waits for its window.
    await h.waitFor("acme", (e) => e.length === 1);
    const q = await (await h.api("/api/v1/tenants/acme/queues/q")).json();
    assert.equal(q.depth + q.inFlight, 1);
    assert.equal((await delayed(h.api)).length, 1);
  } finally {
    await h.close();
  }
});

/** Keep the helper types used. */
export type { Harness };
