/**
 * Concurrency limits end to end: an event's `concurrency` per key and a
 * runtime's, on the real platform over HTTP, with the nap Jobicolet (it
 * sleeps as many ms as the digits of its input say), on each store. The
 * keyed limit runs with two executors on one store: the limit is held in
 * the store, not in a process.
 */
import assert from "node:assert/strict";
import {
  type Harness,
  startHarness,
  storeTest as test,
  type TestStore,
} from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { startPlatform } from "../components/platform.ts";
import type { Execution } from "../components/executions/execution.ts";
import { queueStorageName } from "../components/model/queue_ref.ts";

/** Deploys `acme/lim`: event `charge` on queue q and event `mail` on queue q2, both nap. */
async function deployNap(
  h: Harness,
  charge: string,
  runtime = "",
  mail = "",
): Promise<void> {
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
${mail}
runtimes:
  - id: nap
    moduleref: nap.wasm
${runtime}
`);
}

/** [start, end] of an execution, in ms. */
const span = (e: Execution): [number, number] => {
  const start = Date.parse(e.startedAt);
  return [start, start + e.durationMs];
};

/** Pairs of executions that ran at the same time. */
function overlaps(execs: Execution[]): [Execution, Execution][] {
  const out: [Execution, Execution][] = [];
  for (let i = 0; i < execs.length; i++) {
    for (let j = i + 1; j < execs.length; j++) {
      const [a0, a1] = span(execs[i]);
      const [b0, b1] = span(execs[j]);
      if (a0 < b1 - 1 && b0 < a1 - 1) out.push([execs[i], execs[j]]);
    }
  }
  return out;
}

/** The gate counters left in the store (all should be back at 0). */
async function gatesHeld(h: Harness): Promise<number> {
  let held = 0;
  for await (
    const e of h.kv.list<Deno.KvU64>({ prefix: ["queue", "gate"] })
  ) {
    held += Number(BigInt.asIntN(64, e.value.value));
  }
  return held;
}

async function withTwoExecutors(
  store: TestStore,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const h = await startHarness({ store });
  const second = await startPlatform({
    kv: h.kv,
    adminToken: h.adminToken,
    port: 0,
    components: ["executor"],
  });
  try {
    await fn(h);
  } finally {
    await second.close();
    await h.close();
  }
}

test("keyed concurrency: one execution per customer at once across two executors, each customer's in order", (store) =>
  withTwoExecutors(store, async (h) => {
    await deployNap(
      h,
      `      concurrency: {key: "$.customerId", limit: 1}`,
    );
    // Items sent one request at a time, so that both executors lease some.
    const keys = ["alpha", "beta", "gamma"];
    const sent: { id: string; key: string | null }[] = [];
    for (let round = 0; round < 4; round++) {
      for (const key of [...keys, null]) {
        const item = key === null ? { ms: 120 } : { customerId: key, ms: 120 };
        const [id] = await h.send("acme", "charge", [item]);
        sent.push({ id, key });
      }
    }
    const execs = await h.waitFor(
      "acme",
      (es) => es.filter((e) => e.status === "ok").length === sent.length,
    );
    for (const key of [...keys, null]) {
      const mine = execs.filter((e) =>
        ((e.input as { customerId?: string }).customerId ?? null) === key
      );
      assert.equal(mine.length, 4, `${key}`);
      // One at a time (items without the key share one key of their own).
      assert.deepEqual(
        overlaps(mine).map(([a, b]) => [a.id, b.id]),
        [],
        `${key}`,
      );
      // In the order they were accepted.
      const byStart = [...mine].sort((a, b) => span(a)[0] - span(b)[0]);
      assert.deepEqual(
        byStart.map((e) => e.eventId),
        sent.filter((s) => s.key === key).map((s) => s.id),
        `${key}: order`,
      );
    }
    // Every slot was given back with its item.
    assert.equal(await gatesHeld(h), 0);
  }));

test("runtime concurrency: a runtime's limit holds across its events' queues", (store) =>
  (async () => {
    // Four Workers a tenant: only the runtime's limit keeps the two
    // queues' lanes from running at once.
    const h = await startHarness({ store, tenantConcurrency: 4 });
    try {
      await deployNap(h, "", "    concurrency: 1");
      await h.send("acme", "charge", [150, 150, 150]);
      await h.send("acme", "mail", [150, 150, 150]);
      const execs = await h.waitFor(
        "acme",
        (es) => es.filter((e) => e.status === "ok").length === 6,
      );
      assert.deepEqual(overlaps(execs).map(([a, b]) => [a.event, b.event]), []);
      assert.equal(await gatesHeld(h), 0);
    } finally {
      await h.close();
    }
  })());

test("event concurrency without a key: one execution of the event at once across two executors", (store) =>
  withTwoExecutors(store, async (h) => {
    await deployNap(h, "      concurrency: 1");
    for (let i = 0; i < 6; i++) await h.send("acme", "charge", [120]);
    const execs = await h.waitFor(
      "acme",
      (es) => es.filter((e) => e.status === "ok").length === 6,
    );
    assert.deepEqual(overlaps(execs), []);
    assert.equal(await gatesHeld(h), 0);
  }));

test("keyed concurrency attack: 1,000 distinct keys, a huge string key and a huge object key all run, and the slots come back", (store) =>
  (async () => {
    const h = await startHarness({ store });
    try {
      await deployNap(h, `      concurrency: {key: "$.k", limit: 1}`);
      const items: unknown[] = [];
      // Letters only: nap sleeps as many ms as the digits of its input say.
      const letters = (i: number) =>
        [...i.toString(26).padStart(3, "0")].map((c) =>
          String.fromCharCode(97 + parseInt(c, 26))
        ).join("");
      for (let i = 0; i < 1_000; i++) items.push({ k: `key-${letters(i)}` });
      // Keys as large as an item allows: named by their SHA-256.
      items.push({ k: "x".repeat(60_000) });
      items.push({ k: { nested: "y".repeat(30_000), list: ["a", "b"] } });
      items.push({ k: "x".repeat(60_000) });
      for (let i = 0; i < items.length; i += 500) {
        await h.send("acme", "charge", items.slice(i, i + 500));
      }
      const name = queueStorageName({ tenant: "acme", queue: "q" });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const stats = await h.platform.queue.stats(name);
        if (stats.processed === items.length) break;
        assert.ok(Date.now() < deadline, `processed ${stats.processed}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(await gatesHeld(h), 0);
      // Gate names stay short however large the key.
      for await (const e of h.kv.list({ prefix: ["queue", "gate"] })) {
        assert.ok(String(e.key[2]).length < 300, String(e.key[2]).slice(0, 80));
      }
    } finally {
      await h.close();
    }
  })());
