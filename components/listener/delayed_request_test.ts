import assert from "node:assert/strict";
import {
  examples,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";

async function greetPlatform() {
  const p = await testPlatform({ components: ["listener", "ctl"] });
  await uploadGreetFiles(p);
  await p.store.deploy(await Deno.readTextFile(new URL("job.yaml", examples)));
  return p;
}

const items = (n: number) =>
  JSON.stringify({ data: Array.from({ length: n }, () => ({ name: "A" })) });

Deno.test("a delayed request's items wait as delayed records; its answer says when they run", async () => {
  const p = await greetPlatform();
  try {
    const before = Date.now();
    const res = await p.app.request("/events/demo/greet?delay=90s", {
      method: "POST",
      body: items(3),
      headers: { "idempotency-key": "k1" },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    const runAt = Date.parse(body.runAt);
    assert.ok(runAt >= before + 90_000 && runAt <= Date.now() + 90_000);
    // Not leasable now; counted in the backlog; listed with their event.
    assert.deepEqual(await p.queue.lease("demo/greetings", 10), []);
    assert.equal(await p.queue.backlog("demo/greetings"), 3);
    const page = await p.queue.listDelayed("demo/greetings");
    assert.deepEqual(page.items.map((d) => [d.item.id, d.dueAt]), [
      ...body.ids.map((id: string) => [id, runAt]),
    ]);
    assert.ok(page.items.every((d) => d.item.value.event === "greet"));
    // The same Idempotency-Key answers the same, runAt included.
    const again = await p.app.request("/events/demo/greet?delay=90s", {
      method: "POST",
      body: items(3),
      headers: { "idempotency-key": "k1" },
    });
    assert.deepEqual(await again.json(), body);
    assert.equal(await p.queue.backlog("demo/greetings"), 3);
  } finally {
    await p.close();
  }
});

Deno.test("attack: the largest delayed request fits one write; one more item is a 413, nothing queued", async () => {
  const p = await greetPlatform();
  try {
    const ok = await p.app.request("/events/demo/greet?delay=1h", {
      method: "POST",
      body: items(498),
    });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).accepted, 498);
    const over = await p.app.request("/events/demo/greet?delay=1h", {
      method: "POST",
      body: items(500),
    });
    assert.equal(over.status, 413);
    assert.match(
      (await over.json()).detail,
      /The 500 items of "data" do not fit one write: they take more than 1000 writes/,
    );
    assert.equal(await p.queue.backlog("demo/greetings"), 498);
  } finally {
    await p.close();
  }
});
