import assert from "node:assert/strict";
import { WriteBatch } from "@jobico/goico";
import {
  examples,
  type TestPlatform,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";

const ZERO = {
  depth: 0,
  inFlight: 0,
  delayed: 0,
  dead: 0,
  processed: 0,
  oldestAgeMs: 0,
};

/** The greet example deployed, nothing running: events stay where they are put. */
async function greetPlatform(): Promise<TestPlatform> {
  const p = await testPlatform();
  await uploadGreetFiles(p);
  await p.store.deploy(await Deno.readTextFile(new URL("job.yaml", examples)));
  return p;
}

async function send(p: TestPlatform, ...names: string[]): Promise<string[]> {
  const res = await p.app.request("/events/demo/greet", {
    method: "POST",
    body: JSON.stringify({ data: names.map((name) => ({ name })) }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).ids;
}

/** Leases every waiting greeting and moves it to the dead letters, as the executor does. */
async function killAll(p: TestPlatform): Promise<string[]> {
  const leased = await p.queue.lease("demo/greetings", 100);
  const op = new WriteBatch(p.kv);
  for (const item of leased) {
    p.queue.deadLetter(
      op,
      item,
      `trap: unreachable (${item.id})`,
      `x${item.id}`,
    );
  }
  assert.ok((await op.commit()).ok);
  return leased.map((i) => i.id);
}

async function call(
  p: TestPlatform,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await p.app.request(`/api/v1/tenants/demo/queues${path}`, {
    method,
    body,
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("queues: every declared queue with its stats, sorted by id", async () => {
  const p = await greetPlatform();
  try {
    await send(p, "Ada", "Grace");
    const { status, body } = await call(p, "GET", "");
    assert.equal(status, 200);
    const queues = body.queues as { id: string; oldestAgeMs: number }[];
    assert.deepEqual(queues.map((q) => q.id), ["audit", "greetings"]);
    assert.deepEqual(queues[0], { id: "audit", ...ZERO });
    assert.ok(queues[1].oldestAgeMs >= 0);
    assert.deepEqual({ ...queues[1], oldestAgeMs: 0 }, {
      id: "greetings",
      ...ZERO,
      depth: 2,
    });

    const one = await call(p, "GET", "/greetings");
    assert.equal(one.status, 200);
    assert.equal(one.body.id, "greetings");
    assert.equal(one.body.depth, 2);
    for (
      const key of [
        "depth",
        "inFlight",
        "delayed",
        "dead",
        "processed",
        "oldestAgeMs",
      ]
    ) assert.equal(typeof one.body[key], "number", key);
  } finally {
    await p.close();
  }
});

Deno.test("queues: unknown tenants and queues are 404s naming them, bad names 400s", async () => {
  const p = await greetPlatform();
  try {
    const tenant = await p.app.request("/api/v1/tenants/nobody/queues");
    assert.equal(tenant.status, 404);
    assert.equal(
      tenant.headers.get("content-type"),
      "application/problem+json",
    );
    assert.equal((await tenant.json()).detail, 'Unknown tenant "nobody"');
    for (const path of ["/nope", "/nope/dead"]) {
      const r = await call(p, "GET", path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.detail, 'Tenant "demo" has no queue "nope"');
    }
    const replay = await call(p, "POST", "/nope/dead/replay");
    assert.equal(replay.status, 404);
    const bad = await call(p, "GET", "/no%20pe");
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.detail), /^Invalid queue id "no pe"/);
  } finally {
    await p.close();
  }
});

Deno.test("queues: a queue no package declares any more is listed while it holds dead letters", async () => {
  const p = await greetPlatform();
  try {
    await send(p, "Ada");
    await killAll(p);
    await p.store.delete("demo", "greet");
    const { status, body } = await call(p, "GET", "");
    assert.equal(status, 200);
    assert.deepEqual(
      (body.queues as { id: string; dead: number }[]).map((q) => [
        q.id,
        q.dead,
      ]),
      [["greetings", 1]],
    );
    const purged = await call(p, "DELETE", "/greetings/dead");
    assert.deepEqual(purged.body, { purged: 1 });
  } finally {
    await p.close();
  }
});

Deno.test("dead letters: listed oldest first with their event and last execution, in pages", async () => {
  const p = await greetPlatform();
  try {
    const sent = await send(p, "Ada", "Grace", "Lin");
    const before = Date.now();
    await killAll(p);
    const page = await call(p, "GET", "/greetings/dead?limit=2");
    assert.equal(page.status, 200);
    const dead = page.body.dead as Record<string, unknown>[];
    assert.deepEqual(dead.map((d) => d.id), sent.slice(0, 2));
    const { failedAt, ...first } = dead[0];
    assert.deepEqual(first, {
      id: sent[0],
      eventId: sent[0],
      event: "greet",
      package: "greet",
      version: 1,
      attempt: 1,
      failures: 1,
      error: `trap: unreachable (${sent[0]})`,
      executionId: `x${sent[0]}`,
      data: { name: "Ada" },
    });
    assert.ok(Date.parse(failedAt as string) >= before - 1000);
    assert.equal(new Date(failedAt as string).toISOString(), failedAt);
    assert.equal(typeof page.body.cursor, "string");

    const rest = await call(
      p,
      "GET",
      `/greetings/dead?limit=2&cursor=${
        encodeURIComponent(page.body.cursor as string)
      }`,
    );
    assert.deepEqual(
      (rest.body.dead as { id: string }[]).map((d) => d.id),
      [sent[2]],
    );
    assert.equal(rest.body.cursor, null);
    const all = await call(p, "GET", "/greetings/dead");
    assert.equal((all.body.dead as unknown[]).length, 3);
    assert.deepEqual(await call(p, "GET", "/audit/dead"), {
      status: 200,
      body: { dead: [], cursor: null },
    });
    assert.equal((await call(p, "GET", "/greetings")).body.dead, 3);
  } finally {
    await p.close();
  }
});

Deno.test("dead letters: a bad limit or cursor is a 400 naming it", async () => {
  const p = await greetPlatform();
  try {
    const cases: [string, RegExp][] = [
      ["limit=0", /^Invalid limit "0": use a whole number from 1 to 1000$/],
      ["limit=1001", /^Invalid limit "1001"/],
      ["limit=x", /^Invalid limit "x"/],
      ["limit=-1", /^Invalid limit "-1"/],
      [
        "cursor=%21%21",
        /^Invalid cursor "!!": pass the cursor of a previous page$/,
      ],
      // Well formed, but not a cursor the store made.
      ["cursor=zzz", /^Invalid cursor "zzz"/],
    ];
    for (const [query, detail] of cases) {
      const r = await call(p, "GET", `/greetings/dead?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(String(r.body.detail), detail, query);
    }
  } finally {
    await p.close();
  }
});

Deno.test("replay: re-queues the given dead letters and lists the ids that are not", async () => {
  const p = await greetPlatform();
  try {
    const ids = await send(p, "Ada", "Grace", "Lin");
    await killAll(p);
    const some = await call(
      p,
      "POST",
      "/greetings/dead/replay",
      JSON.stringify({ ids: [ids[1], "nope", ids[1]] }),
    );
    assert.equal(some.status, 200);
    assert.deepEqual(some.body, {
      replayed: 1,
      ids: [ids[1]],
      notFound: ["nope"],
    });
    assert.partialDeepStrictEqual((await call(p, "GET", "/greetings")).body, {
      depth: 1,
      dead: 2,
    });
    const back = await p.queue.lease("demo/greetings", 10);
    assert.deepEqual(back.map((i) => [i.id, i.failures, i.attempt]), [
      [ids[1], 0, 2],
    ]);

    // No body, or {}: every dead letter.
    const all = await call(p, "POST", "/greetings/dead/replay");
    assert.deepEqual(all.body, {
      replayed: 2,
      ids: [ids[0], ids[2]],
      notFound: [],
    });
    assert.deepEqual(
      (await call(p, "POST", "/greetings/dead/replay", "{}")).body,
      { replayed: 0, ids: [], notFound: [] },
    );
    assert.partialDeepStrictEqual((await call(p, "GET", "/greetings")).body, {
      depth: 2,
      inFlight: 1,
      dead: 0,
    });
  } finally {
    await p.close();
  }
});

Deno.test("replay and purge: a malformed body is a 400 saying what is wrong", async () => {
  const p = await greetPlatform();
  try {
    const cases: [string, RegExp][] = [
      [
        "{",
        /^Replay body must be JSON like \{"ids": \["..."\]\}; it is not valid JSON$/,
      ],
      ["[]", /; it is not an object$/],
      ['{"id": ["a"]}', /; unknown member "id"$/],
      ['{"ids": "a"}', /; "ids" is not a list$/],
      [
        '{"ids": []}',
        /^"ids" is empty: leave it out to take every dead letter$/,
      ],
      ['{"ids": ["a", 2]}', /^Item 1 of "ids" is not a string$/],
      ['{"ids": ["../x"]}', /^Invalid dead letter id "..\/x"/],
      [
        JSON.stringify({
          ids: Array.from({ length: 1001 }, (_, i) => `i${i}`),
        }),
        /^"ids" has 1001 ids; the limit is 1000 per request$/,
      ],
    ];
    for (const [body, detail] of cases) {
      const r = await call(p, "POST", "/greetings/dead/replay", body);
      assert.equal(r.status, 400, body);
      assert.match(String(r.body.detail), detail, body);
    }
    const purge = await call(p, "DELETE", "/greetings/dead", "{");
    assert.equal(purge.status, 400);
    assert.match(String(purge.body.detail), /^Purge body must be JSON/);
    const both = await call(
      p,
      "DELETE",
      "/greetings/dead?id=a",
      '{"ids": ["b"]}',
    );
    assert.equal(both.status, 400);
    assert.match(String(both.body.detail), /not both$/);
  } finally {
    await p.close();
  }
});

Deno.test("purge: by ?id=, by body, or all", async () => {
  const p = await greetPlatform();
  try {
    const ids = await send(p, "A", "B", "C", "D");
    await killAll(p);
    assert.deepEqual(
      await call(p, "DELETE", `/greetings/dead?id=${ids[0]}&id=nope`),
      { status: 200, body: { purged: 1 } },
    );
    assert.deepEqual(
      await call(
        p,
        "DELETE",
        "/greetings/dead",
        JSON.stringify({ ids: [ids[1]] }),
      ),
      { status: 200, body: { purged: 1 } },
    );
    assert.deepEqual(await call(p, "DELETE", "/greetings/dead"), {
      status: 200,
      body: { purged: 2 },
    });
    assert.partialDeepStrictEqual((await call(p, "GET", "/greetings")).body, {
      depth: 0,
      dead: 0,
    });
  } finally {
    await p.close();
  }
});

Deno.test("queues: the routes refuse a wrong token", async () => {
  const p = await testPlatform();
  try {
    const res = await p.app.request("/api/v1/tenants/demo/queues", {
      headers: { authorization: "Bearer wrong" },
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  } finally {
    await p.close();
  }
});
