import assert from "node:assert/strict";
import { serviceApp, silentLogger, WriteBatch } from "@jobico/goico";
import {
  examples,
  TEST_ADMIN_TOKEN,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";
import { Authenticator } from "../http/authenticator.ts";
import { listenerApp } from "./listener.ts";
import { WebhookAuth } from "./webhook_auth.ts";

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
      data: Array.from({ length: 501 }, () => ({ name: "x" })),
    });
    assert.equal(res.status, 413);
    assert.match((await res.json()).detail, /501 items; the limit is 500/);
  } finally {
    await p.close();
  }
});

Deno.test("attack: with maxItems 1000, a request is taken exactly while its write fits one atomic (996 items), and one more item is a 413 that queues nothing", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const authenticator = new Authenticator(TEST_ADMIN_TOKEN, p.tenants);
    // Behind the service's error boundary, as on the platform.
    const app = serviceApp({ name: "t", version: "0", logger: silentLogger });
    app.route(
      "/",
      listenerApp({
        kv: p.kv,
        definitions: p.definitions,
        store: p.store,
        queue: p.queue,
        auth: new WebhookAuth({ authenticator, tenants: p.tenants }),
        maxItems: 1000,
      }),
    );
    const send = (n: number) =>
      app.request("/events/demo/greet", {
        method: "POST",
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        body: JSON.stringify({
          data: Array.from({ length: n }, () => ({ name: "x" })),
        }),
      });
    // 996 items, the queue's counter, marker and signal, the version's pin
    // count: 1000 mutations, the KV's limit (a guess of 994 refused it).
    const full = await send(996);
    assert.equal(full.status, 200);
    const over = await send(997);
    assert.equal(over.status, 413);
    assert.match(
      (await over.json()).detail,
      /^The 997 items of "data" do not fit one write: they take more than 1000 writes/,
    );
    assert.equal((await p.queue.stats("demo/greetings")).depth, 996);
    // The refused request holds no room in the queue's backlog.
    assert.equal((await send(1)).status, 200);
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

Deno.test("Idempotency-Keys: new keys cost no read; a duplicate among concurrent requests loses none of them; then its tenant's keys are read first, in shared reads", async () => {
  const p = await greetPlatform({ components: ["listener"] });
  try {
    const send = async (key: string, name: string) => {
      const res = await p.app.request("/events/demo/greet", {
        method: "POST",
        headers: { "idempotency-key": key },
        body: JSON.stringify({ data: [{ name }] }),
      });
      assert.equal(res.status, 200);
      return {
        replayed: res.headers.get("idempotent-replayed") === "true",
        ids: (await res.json()).ids as string[],
      };
    };
    const value = async (name: string) => {
      const metrics = await (await p.app.request("/metrics", {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      })).text();
      return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1]);
    };
    const depth = async () => (await p.queue.stats("demo/greetings")).depth;
    // Twenty new keys at once: each accepted, nothing read first.
    const first = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(`order-${i}`, `n${i}`)),
    );
    assert.equal(new Set(first.map((a) => a.ids[0])).size, 20);
    assert.ok(first.every((a) => !a.replayed));
    assert.equal(await depth(), 20);
    assert.equal(await value("jobico_listener_record_read_keys_total"), 0);
    // Ten new keys and one seen before, at once: the duplicate's write is
    // refused (its group's other writes are then committed one by one),
    // it gets its first answer, and each new key is accepted once.
    const mixed = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => send(`order-${20 + i}`, "m")),
      send("order-3", "again"),
    ]);
    assert.deepEqual(mixed[10], { replayed: true, ids: first[3].ids });
    assert.equal(new Set(mixed.slice(0, 10).map((a) => a.ids[0])).size, 10);
    assert.equal(await depth(), 30);
    assert.equal(await value("jobico_listener_record_read_keys_total"), 1);
    // From then on the tenant's keys are read first: concurrent requests
    // share the reads of their records.
    const readsBefore = await value("jobico_listener_record_reads_total");
    const later = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(`order-${30 + i}`, "l")),
    );
    assert.ok(later.every((a) => !a.replayed));
    assert.equal(await depth(), 50);
    assert.equal(await value("jobico_listener_record_read_keys_total"), 21);
    const reads = await value("jobico_listener_record_reads_total") -
      readsBefore;
    assert.ok(reads >= 2 && reads < 20, `${reads} reads for 20 keys`);
  } finally {
    await p.close();
  }
});

Deno.test("a full queue refuses events with 429 and Retry-After, and accepts again once drained", async () => {
  // No executor: what is accepted stays queued.
  const p = await greetPlatform({ components: ["listener"], maxQueueDepth: 3 });
  try {
    const names = (...ns: string[]) => ({ data: ns.map((name) => ({ name })) });
    const first = await post(p, names("A", "B"));
    assert.equal(first.status, 200);
    const accepted: string[] = (await first.json()).ids;

    const full = await post(p, names("C", "D"));
    assert.equal(full.status, 429);
    assert.equal(full.headers.get("content-type"), "application/problem+json");
    // One over a limit of 3: 1 s per thirtieth of the limit, so 10 s.
    assert.equal(full.headers.get("retry-after"), "10");
    assert.deepEqual(await full.json(), {
      type: "about:blank",
      title: "Too many requests",
      status: 429,
      detail:
        'Queue "greetings" of tenant "demo" holds 2 events; the limit is 3: try again in 10 s',
      instance: "/events/demo/greet",
      queue: "greetings",
      backlog: 2,
      limit: 3,
    });
    assert.equal((await p.queue.stats("demo/greetings")).depth, 2);

    // What fits still goes in; then nothing does.
    const last = await post(p, names("C"));
    assert.equal(last.status, 200);
    accepted.push(...(await last.json()).ids);
    const refused = await post(p, names("D"));
    assert.equal(refused.status, 429);
    assert.equal((await refused.json()).backlog, 3);
    // Other queues are not affected.
    const audit = await post(p, {
      data: [{
        code: 0,
        result: "x",
        source: { event: "greet", eventId: "a", executionId: "b" },
      }],
    }, "/events/demo/greeted");
    assert.equal(audit.status, 200);

    // A consumer drains two: the queue takes two again, at once.
    const leased = await p.queue.lease("demo/greetings", 2);
    const op = new WriteBatch(p.kv);
    for (const item of leased) p.queue.ack(op, item);
    assert.ok((await op.commit()).ok);
    const again = await post(p, names("D", "E"));
    assert.equal(again.status, 200);
    accepted.push(...(await again.json()).ids);

    // Nothing accepted was lost, nothing refused was queued.
    const rest = await p.queue.lease("demo/greetings", 10);
    assert.deepEqual(
      [...leased, ...rest].map((i) => i.value.eventId),
      accepted,
    );
    assert.deepEqual(
      [...leased, ...rest].map((i) => (i.value.data as { name: string }).name),
      ["A", "B", "C", "D", "E"],
    );
  } finally {
    await p.close();
  }
});

Deno.test("an idempotent replay of an accepted request answers 200 even when the queue is full", async () => {
  const p = await greetPlatform({ components: ["listener"], maxQueueDepth: 1 });
  try {
    const send = (key: string) =>
      p.app.request("/events/demo/greet", {
        method: "POST",
        headers: { "idempotency-key": key },
        body: JSON.stringify({ data: [{ name: "Ada" }] }),
      });
    const first = await send("k1");
    assert.equal(first.status, 200);
    const again = await send("k1");
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), await first.json());
    // A new key is refused, and not remembered: the client may retry it later.
    assert.equal((await send("k2")).status, 429);
    assert.equal(
      (await p.kv.get(["idem", "demo", "greet", "k2"])).value,
      null,
    );
    assert.equal((await p.queue.stats("demo/greetings")).depth, 1);
  } finally {
    await p.close();
  }
});
