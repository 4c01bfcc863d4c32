import assert from "node:assert/strict";
import { GroupCommit, jsonRecords } from "@jobico/goico";
import { keys } from "../model/keys.ts";
import { enqueueEvents } from "./enqueue_events.ts";
import { postTo, stepApp, stepWorld } from "./_test_steps.ts";

Deno.test("enqueueEvents refuses with a 413 a write that cannot fit one atomic, and writes nothing of it", async () => {
  const w = await stepWorld();
  try {
    const post = async (items: unknown[]) => {
      const app = stepApp(
        { route: w.route, items },
        enqueueEvents({
          kv: w.kv,
          queue: w.queue,
          commits: new GroupCommit(w.kv),
        }),
      );
      const res = await postTo(app, "");
      return { status: res.status, body: await res.json() };
    };
    // One item larger than a KV value; many that together pass 800 KiB.
    const big = await post([{ name: "x".repeat(70_000) }]);
    assert.equal(big.status, 413);
    assert.match(big.body.detail, /^Item 0 of "data" is \d+ bytes stored/);
    const many = await post(Array(15).fill({ name: "x".repeat(60_000) }));
    assert.equal(many.status, 413);
    assert.match(
      many.body.detail,
      /^The 15 items of "data" do not fit one write: they take more than 819200 bytes/,
    );
    assert.equal((await w.queue.stats("demo/greetings")).depth, 0);
    const pin = await w.kv.get(keys.versionPin("demo", "greet", 1));
    assert.equal(pin.value, null);
  } finally {
    await w.close();
  }
});

Deno.test("enqueueEvents queues the items in order in one write, with their pin and once-records, then answers their ids", async () => {
  const w = await stepWorld();
  try {
    const idem = {
      key: keys.idempotency("demo", "greet", "k"),
      expireIn: 60_000,
    };
    const replay = { key: keys.signatureSeen("demo", "sig"), expireIn: 60_000 };
    let n = 0;
    const app = stepApp(
      {
        route: w.route,
        items: [{ name: "A" }, { name: "B" }],
        idempotency: idem,
        replay,
      },
      enqueueEvents({
        kv: w.kv,
        queue: w.queue,
        commits: new GroupCommit(w.kv),
        newId: () => `id${++n}`,
      }),
    );
    const res = await postTo(app, "");
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.deepEqual(answer, { accepted: 2, ids: ["id1", "id2"] });
    const queued = await w.queue.lease("demo/greetings", 10);
    assert.deepEqual(queued.map((i) => [i.id, i.value.data]), [
      ["id1", { name: "A" }],
      ["id2", { name: "B" }],
    ]);
    assert.deepEqual(queued[0].value, {
      tenant: "demo",
      package: "greet",
      version: 1,
      event: "greet",
      eventId: "id1",
      data: { name: "A" },
    });
    // The answer, as JSON bytes.
    const kept = (await w.kv.get(idem.key)).value;
    assert.ok(kept instanceof Uint8Array);
    assert.deepEqual(jsonRecords.decode(kept), answer);
    assert.equal((await w.kv.get(replay.key)).value, 1);
    const pin = await w.kv.get<Deno.KvU64>(keys.versionPin("demo", "greet", 1));
    assert.equal(pin.value?.value, 2n);
  } finally {
    await w.close();
  }
});

Deno.test("enqueueEvents writes nothing when a once-record appeared meanwhile", async () => {
  const w = await stepWorld();
  try {
    const idem = {
      key: keys.idempotency("demo", "greet", "k"),
      expireIn: 60_000,
    };
    // Written after the Idempotency-Key step looked and before this write.
    await w.kv.set(idem.key, { accepted: 1, ids: ["winner"] });
    const app = stepApp(
      { route: w.route, items: [{ name: "A" }], idempotency: idem },
      enqueueEvents({
        kv: w.kv,
        queue: w.queue,
        commits: new GroupCommit(w.kv),
      }),
    );
    const res = await postTo(app, "");
    // Unanswered by the step that set the record: a 500 that hides why.
    assert.equal(res.status, 500);
    assert.equal((await res.json()).title, "Internal server error");
    assert.equal((await w.queue.stats("demo/greetings")).depth, 0);
    assert.deepEqual((await w.kv.get(idem.key)).value, {
      accepted: 1,
      ids: ["winner"],
    });
    const pin = await w.kv.get(keys.versionPin("demo", "greet", 1));
    assert.equal(pin.value, null);
  } finally {
    await w.close();
  }
});
