/**
 * Flow limits made visible (`GET .../queues/{queue}/limits`) and the
 * tenant's `maxConcurrency` enforced on the store, end to end: the real
 * server on port 0, a real store (Deno KV and PostgreSQL), the nap
 * Jobicolet built from tests/jobicolets (it sleeps as many ms as the digits
 * of its input say).
 */
import assert from "node:assert/strict";
import { type Harness, startHarness, storeTest as test } from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { startPlatform } from "../components/platform.ts";
import type { Execution } from "../components/executions/execution.ts";
import type { QueueLimits } from "../api/mod.ts";
import { SCHEMAS } from "../api/schemas.ts";
import { ApiCheck } from "../components/http/api_check.ts";

/** `schema` with its `$ref`s to components/schemas replaced by what they name. */
function inline(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(inline);
  if (typeof schema !== "object" || schema === null) return schema;
  const r = (schema as { $ref?: string }).$ref;
  if (r) {
    return inline(SCHEMAS[r.split("/").pop() as keyof typeof SCHEMAS]);
  }
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [k, inline(v)]),
  );
}

/** Every answer matches the API's schema (the OpenAPI document's). */
const check = new ApiCheck(
  // deno-lint-ignore no-explicit-any
  inline(JSON.parse(JSON.stringify(SCHEMAS.QueueLimits))) as any,
);

async function deployNap(h: Harness, charge: string, runtime = "") {
  await h.upload("acme", "nap.wasm", await compileWat("nap"));
  await h.upload("acme", "any.json", "{}");
  await h.deploy(`id: lim
tenant: acme
queues: [{id: q}, {id: q2}]
jobs:
  - event:
      id: charge
      schema: {id: s, schemaref: any.json}
      supplierqueue: q
      runtime: nap
${charge}
  - event:
      id: mail
      schema: {id: s2, schemaref: any.json}
      supplierqueue: q2
      runtime: nap
runtimes:
  - id: nap
    moduleref: nap.wasm
${runtime}
`);
}

async function limitsOf(h: Harness, queue: string): Promise<QueueLimits> {
  const res = await h.api(`/api/v1/tenants/acme/queues/${queue}/limits`);
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.equal(check.issue(body), undefined, JSON.stringify(body));
  return body;
}

/** Polls the limits until `pred` holds (generous deadline: a loaded machine). */
async function waitLimits(
  h: Harness,
  queue: string,
  pred: (l: QueueLimits) => boolean,
): Promise<QueueLimits> {
  const deadline = Date.now() + 20_000;
  let last: QueueLimits | undefined;
  while (Date.now() < deadline) {
    last = await limitsOf(h, queue);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Limits never matched; last: ${JSON.stringify(last)}`);
}

const span = (e: Execution): [number, number] => {
  const start = Date.parse(e.startedAt);
  return [start, start + e.durationMs];
};

/** The most executions that ran at the same moment. */
function mostAtOnce(execs: Execution[]): number {
  let most = 0;
  for (const e of execs) {
    const [t] = span(e);
    const at = execs.filter((x) => {
      const [a, b] = span(x);
      return a <= t && t < b - 1;
    }).length;
    most = Math.max(most, at);
  }
  return most;
}

test("queue limits show each key's slots in use and the runtime's, while they run, then free", async (store) => {
  const h = await startHarness({ store, tenantConcurrency: 4 });
  try {
    await deployNap(
      h,
      `      concurrency: {key: "$.customerId", limit: 1}`,
      "    concurrency: 3",
    );
    const before = await limitsOf(h, "q");
    assert.deepEqual(before, {
      queue: "q",
      tenant: { limit: 0, held: 0 },
      events: [{
        event: "charge",
        package: "lim",
        version: 1,
        concurrency: {
          limit: 1,
          key: "$.customerId",
          inUse: [],
          truncated: false,
        },
      }],
      runtimes: [{ package: "lim", runtime: "nap", limit: 3, held: 0 }],
    });
    await h.send("acme", "charge", [
      { customerId: "alpha", ms: 1500 },
      { customerId: "alpha", ms: 1500 },
      { customerId: "beta", ms: 1500 },
      { ms: 1500 },
    ]);
    // alpha, beta and the keyless items each hold their one slot; the second
    // alpha waits. Seen while they run, in any process of the store. (The
    // view reads the keys' and the runtime's counters one after the other,
    // not as one snapshot: wait until a read shows both.)
    const seen = await waitLimits(
      h,
      "q",
      (l) =>
        l.events[0].concurrency!.inUse.length === 3 &&
        l.runtimes[0].held === 3,
    );
    assert.deepEqual(seen.events[0].concurrency!.inUse, [
      { key: null, held: 1 },
      { key: "alpha", held: 1 },
      { key: "beta", held: 1 },
    ]);
    assert.equal(seen.runtimes[0].held, 3);
    // All done: every slot back.
    await h.waitFor(
      "acme",
      (es) => es.filter((e) => e.status === "ok").length === 4,
    );
    const after = await waitLimits(
      h,
      "q",
      (l) =>
        l.events[0].concurrency!.inUse.length === 0 &&
        l.runtimes[0].held === 0,
    );
    assert.equal(after.runtimes[0].held, 0);
    // A queue without limited events shows none; an unknown one is a 404.
    assert.deepEqual((await limitsOf(h, "q2")).events, []);
    const none = await h.api("/api/v1/tenants/acme/queues/nope/limits");
    assert.equal(none.status, 404);
    assert.match((await none.json()).detail, /no queue "nope"/);
  } finally {
    await h.close();
  }
});

Deno.test("queue limits show a rate limit's open windows and a debounce's waiting items", async () => {
  const h = await startHarness({});
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
      rateLimit: {limit: 5, period: 30d, key: $.c, mode: reject}
  - event:
      id: mail
      schema: {id: s2, schemaref: any.json}
      supplierqueue: q
      runtime: nap
      debounce: {period: 1h, key: $.c}
runtimes:
  - id: nap
    moduleref: nap.wasm
`);
    await h.send("acme", "charge", [{ c: "x" }, { c: "x" }, { c: "y" }]);
    const [kept] = await h.send("acme", "mail", [{ c: "x" }]);
    const l = await limitsOf(h, "q");
    const charge = l.events.find((e) => e.event === "charge")!;
    assert.equal(charge.rateLimit!.limit, 5);
    assert.equal(charge.rateLimit!.mode, "reject");
    assert.deepEqual(
      charge.rateLimit!.windows.map((w) => [w.key, w.used]),
      [["x", 2], ["y", 1]],
    );
    assert.ok(Date.parse(charge.rateLimit!.windows[0].until) > Date.now());
    const mail = l.events.find((e) => e.event === "mail")!;
    assert.equal(mail.debounce!.pending.length, 1);
    assert.equal(mail.debounce!.pending[0].key, "x");
    assert.equal(mail.debounce!.pending[0].id, kept);
  } finally {
    await h.close();
  }
});

Deno.test("attack: another tenant's queue limits are a 403; odd queue names a 400", async () => {
  const h = await startHarness({});
  try {
    await deployNap(h, `      concurrency: {limit: 1}`);
    const res = await h.api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "evil" }),
    });
    const { token } = await res.json();
    const other = await h.api("/api/v1/tenants/acme/queues/q/limits", {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(other.status, 403);
    const body = await other.text();
    assert.doesNotMatch(body, /charge/);
    const odd = await h.api("/api/v1/tenants/acme/queues/..%2F..%2Fx/limits");
    assert.equal(odd.status, 400);
  } finally {
    await h.close();
  }
});

test("tenant maxConcurrency: one execution of the tenant at once across two executors and two queues", async (store) => {
  const h = await startHarness({ store, tenantConcurrency: 4 });
  const second = await startPlatform({
    kv: h.kv,
    adminToken: h.adminToken,
    port: 0,
    components: ["executor"],
    tenantConcurrency: 4,
  });
  try {
    await deployNap(h, "");
    const patch = await h.api("/api/v1/tenants/acme", {
      method: "PATCH",
      body: JSON.stringify({ quotas: { maxConcurrency: 1 } }),
    });
    assert.equal(patch.status, 200, await patch.clone().text());
    assert.equal((await patch.json()).quotas.maxConcurrency, 1);
    // Sent one request at a time, to both queues, so both executors lease.
    for (let i = 0; i < 4; i++) {
      await h.send("acme", "charge", [{ ms: 150 }]);
      await h.send("acme", "mail", [{ ms: 150 }]);
    }
    const seen = await waitLimits(h, "q", (l) => l.tenant.held === 1);
    assert.deepEqual(seen.tenant, { limit: 1, held: 1 });
    const execs = await h.waitFor(
      "acme",
      (es) => es.filter((e) => e.status === "ok").length === 8,
    );
    assert.equal(mostAtOnce(execs), 1);
    // Every slot back.
    await waitLimits(h, "q", (l) => l.tenant.held === 0);
  } finally {
    await second.close();
    await h.close();
  }
});

Deno.test("tenant maxConcurrency by default: no limit, no gate in the store", async () => {
  const h = await startHarness({ tenantConcurrency: 4 });
  try {
    await deployNap(h, "");
    await h.send("acme", "charge", [{ ms: 1 }, { ms: 1 }]);
    await h.waitFor(
      "acme",
      (es) => es.filter((e) => e.status === "ok").length === 2,
    );
    const gates = await Array.fromAsync(
      h.kv.list({ prefix: ["queue", "gate"] }),
    );
    assert.deepEqual(gates.map((g) => g.key), []);
    assert.deepEqual((await limitsOf(h, "q")).tenant, { limit: 0, held: 0 });
  } finally {
    await h.close();
  }
});

Deno.test("attack: maxConcurrency negative, 1e9, fractional or a string is a 400 naming it; 0 gives no limit", async () => {
  const h = await startHarness({});
  try {
    await deployNap(h, "");
    for (const bad of [-1, 1e9, 1.5, '"1"']) {
      const res = await h.api("/api/v1/tenants/acme", {
        method: "PATCH",
        body: `{"quotas":{"maxConcurrency":${bad}}}`,
      });
      assert.equal(res.status, 400, `${bad}`);
      assert.match(
        (await res.json()).detail,
        /"quotas\.maxConcurrency".*from 0 to 100000/,
      );
    }
    const zero = await h.api("/api/v1/tenants/acme", {
      method: "PATCH",
      body: '{"quotas":{"maxConcurrency":0}}',
    });
    assert.equal(zero.status, 200);
    await h.send("acme", "charge", [{ ms: 1 }]);
    await h.waitFor(
      "acme",
      (es) => es.filter((e) => e.status === "ok").length === 1,
    );
    // A tenant's own token cannot raise its limit.
    const t = await h.api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "self" }),
    });
    const { token } = await t.json();
    const own = await h.api("/api/v1/tenants/self", {
      method: "PATCH",
      headers: { authorization: `Bearer ${token}` },
      body: '{"quotas":{"maxConcurrency":100000}}',
    });
    assert.equal(own.status, 403);
  } finally {
    await h.close();
  }
});
