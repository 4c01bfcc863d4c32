/**
 * A re-run goes through its event's flow control as a webhook request
 * does: a `reject` rate limit refuses it with a 429 naming the limit, a
 * `throttle` puts it off to the window with room, a debounce merges it
 * into the key's waiting item. End to end: the real server on port 0, a
 * real KV, the nap Jobicolet built from tests/jobicolets.
 */
import assert from "node:assert/strict";
import { type Harness, startHarness } from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";

async function deploy(h: Harness, limit: string): Promise<void> {
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
${limit}
runtimes:
  - id: nap
    moduleref: nap.wasm
`);
}

const rerun = (h: Harness, id: string) =>
  h.api(`/api/v1/tenants/acme/executions/${id}/rerun`, { method: "POST" });

async function delayedIds(h: Harness): Promise<string[]> {
  const res = await h.api("/api/v1/tenants/acme/queues/q/delayed");
  return (await res.json()).delayed.map((d: { id: string }) => d.id);
}

Deno.test("attack: re-runs past a reject rate limit are a 429 naming the limit, with Retry-After", async () => {
  const h = await startHarness({});
  try {
    await deploy(
      h,
      "      rateLimit: {limit: 2, period: 30d, key: $.c, mode: reject}",
    );
    await h.send("acme", "charge", [{ c: "x" }]);
    await h.send("acme", "charge", [{ c: "y" }]);
    const execs = await h.waitFor("acme", (es) => es.length === 2);
    const x = execs.find((e) => (e.input as { c: string }).c === "x")!;
    // x's window has room for one more: the re-run takes it.
    const ok = await rerun(h, x.id);
    assert.equal(ok.status, 200, await ok.clone().text());
    // Re-running again and again gets no further than a webhook request.
    for (let i = 0; i < 3; i++) {
      const res = await rerun(h, x.id);
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get("retry-after")) >= 1);
      const p = await res.json();
      assert.match(p.detail, /limited to 2 per 30d for \$\.c "x"/);
    }
    // Nor by the webhook.
    const hook = await h.api("/events/acme/charge", {
      method: "POST",
      body: JSON.stringify({ data: [{ c: "x" }] }),
    });
    assert.equal(hook.status, 429);
    await h.waitFor("acme", (es) => es.length === 3);
    assert.deepEqual(await delayedIds(h), []);
  } finally {
    await h.close();
  }
});

Deno.test("a re-run over a throttle limit waits, delayed, for the window with room", async () => {
  const h = await startHarness({});
  try {
    await deploy(h, "      rateLimit: {limit: 1, period: 1h}");
    await h.send("acme", "charge", [{ ms: 1 }]);
    const [first] = await h.waitFor("acme", (es) => es.length === 1);
    const res = await rerun(h, first.id);
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    assert.ok(body.runAt, JSON.stringify(body));
    const runAt = Date.parse(body.runAt);
    assert.ok(runAt > Date.now(), body.runAt);
    assert.equal(runAt % 3_600_000, 0, "the next window's start");
    assert.deepEqual(await delayedIds(h), body.ids);
  } finally {
    await h.close();
  }
});

Deno.test("re-runs of a debounced event merge into the key's waiting item", async () => {
  const h = await startHarness({});
  try {
    await deploy(h, "      debounce: {period: 2s, key: $.c}");
    await h.send("acme", "charge", [{ c: "x" }]);
    const [first] = await h.waitFor("acme", (es) => es.length === 1);
    const a = await (await rerun(h, first.id)).json();
    const b = await (await rerun(h, first.id)).json();
    assert.ok(a.runAt && b.runAt);
    // keep: last: the second replaced the first, which never runs.
    assert.deepEqual(await delayedIds(h), b.ids);
    const execs = await h.waitFor("acme", (es) => es.length === 2);
    assert.equal(execs[0].eventId, b.ids[0]);
    assert.equal(execs[0].rerunOf, first.id);
  } finally {
    await h.close();
  }
});
