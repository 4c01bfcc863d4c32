import assert from "node:assert/strict";
import { examples, testPlatform, uploadGreetFiles } from "../_test_platform.ts";

async function greetPlatform(options: Parameters<typeof testPlatform>[0] = {}) {
  const p = await testPlatform(options);
  await uploadGreetFiles(p);
  await p.store.deploy(await Deno.readTextFile(new URL("job.yaml", examples)));
  return p;
}

const post = (
  p: {
    app: {
      request: (
        path: string,
        init: RequestInit,
      ) => Response | Promise<Response>;
    };
  },
  body: unknown,
  path = "/events/demo/greet",
) =>
  p.app.request(path, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

Deno.test("accepted items are appended to the event's queue in order, in one write", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const res = await post(p, {
      data: [{ name: "A" }, { name: "B" }, { name: "C" }],
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.accepted, 3);
    assert.equal(body.ids.length, 3);
    assert.deepEqual([...body.ids].sort(), body.ids);
    const leased = await p.queue.lease("demo/greetings", 10);
    assert.deepEqual(leased.map((i) => i.value.eventId), body.ids);
    assert.deepEqual(leased.map((i) => i.value.data), [{ name: "A" }, {
      name: "B",
    }, { name: "C" }]);
    assert.ok(
      leased.every((i) =>
        i.value.version === 1 && i.value.package === "greet" &&
        i.value.event === "greet"
      ),
    );
  } finally {
    await p.close();
  }
});

Deno.test("one invalid item refuses the whole request and lists every error", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const res = await post(p, { data: [{ name: "ok" }, {}, { name: "" }] });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.deepEqual(
      body.errors.map((e: { item: number; path: string }) => [e.item, e.path]),
      [[1, "/name"], [2, "/name"]],
    );
    assert.partialDeepStrictEqual(await p.queue.stats("demo/greetings"), {
      depth: 0,
      inFlight: 0,
    });
  } finally {
    await p.close();
  }
});

Deno.test("too many items in one request is a 413 naming the limit", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const res = await post(p, {
      data: Array.from({ length: 1001 }, () => ({ name: "x" })),
    });
    assert.equal(res.status, 413);
    assert.match((await res.json()).detail, /1001 items; the limit is 1000/);
  } finally {
    await p.close();
  }
});

Deno.test("bad names in the path are a 400 naming them", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const res = await post(p, { data: [{}] }, "/events/demo/gr%20eet");
    assert.equal(res.status, 400);
    assert.match((await res.json()).detail, /Invalid event id "gr eet"/);
  } finally {
    await p.close();
  }
});

Deno.test("result events declared in a package accept items too", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const item = {
      code: 0,
      result: "x",
      source: { event: "greet", eventId: "a", executionId: "b" },
    };
    const res = await post(p, { data: [item] }, "/events/demo/greeted");
    assert.equal(res.status, 200);
    assert.equal((await p.queue.stats("demo/audit")).depth, 1);
  } finally {
    await p.close();
  }
});

Deno.test("the same Idempotency-Key returns the first answer and queues nothing new", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const send = async (key: string, name: string): Promise<Response> =>
      await p.app.request("/events/demo/greet", {
        method: "POST",
        headers: { "idempotency-key": key },
        body: JSON.stringify({ data: [{ name }] }),
      });
    const first = await send("order-17", "Ada");
    assert.equal(first.status, 200);
    const firstBody = await first.json();
    // Sent again (even with another body, as a retrying client may): the first answer.
    const again = await send("order-17", "Grace");
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), firstBody);
    // Concurrent duplicates: one write wins, all get its answer.
    const answers = await Promise.all(
      [1, 2, 3, 4].map(async () => (await send("order-18", "Lin")).json()),
    );
    assert.ok(
      answers.every((a) => JSON.stringify(a) === JSON.stringify(answers[0])),
    );
    assert.equal((await p.queue.stats("demo/greetings")).depth, 2);
    const other = await send("order-19", "Ada");
    assert.notDeepEqual((await other.json()).ids, firstBody.ids);
    assert.equal((await p.queue.stats("demo/greetings")).depth, 3);
    const bad = await send("", "Ada");
    assert.equal(bad.status, 400); // An empty key is a client mistake.
    const tooLong = await send("k".repeat(300), "Ada");
    assert.equal(tooLong.status, 400);
    assert.match((await tooLong.json()).detail, /Idempotency-Key/);
  } finally {
    await p.close();
  }
});
