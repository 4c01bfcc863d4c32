import assert from "node:assert/strict";
import {
  closedPortUrl,
  fakeFetch,
  json,
  problem,
  sampleExecution,
  streamOf,
} from "./_capture_io.ts";
import { fetchFailureReason } from "./api_error.ts";
import { ApiError, ConnectionError, JobicoClient } from "./client.ts";
import { readSse, type SseMessage } from "./read_sse.ts";

async function collect(stream: ReadableStream<Uint8Array>) {
  const messages: SseMessage[] = [];
  for await (const m of readSse(stream)) messages.push(m);
  return messages;
}

Deno.test("deploy posts YAML with the bearer token", async () => {
  const f = fakeFetch(() =>
    json({ tenant: "demo", id: "greet", version: 3 }, 201)
  );
  const client = new JobicoClient({
    url: "http://jobico.test:8080/",
    token: "s3cret",
    fetch: f,
  });
  const res = await client.deploy("id: greet\n");
  assert.deepEqual(res, { tenant: "demo", id: "greet", version: 3 });
  const [req] = f.requests;
  assert.equal(req.method, "POST");
  assert.equal(req.url.href, "http://jobico.test:8080/api/v1/packages");
  assert.equal(req.headers.get("authorization"), "Bearer s3cret");
  assert.equal(req.headers.get("content-type"), "application/yaml");
  assert.equal(req.body, "id: greet\n");
});

Deno.test("no authorization header without a token", async () => {
  const f = fakeFetch(() => json({ status: "ok" }));
  await new JobicoClient({ url: "http://x.test", fetch: f }).health();
  assert.equal(f.requests[0].headers.get("authorization"), null);
});

Deno.test("paths are encoded and empty query values left out", async () => {
  const f = fakeFetch(() => json({ executions: [], cursor: null }));
  const client = new JobicoClient({ url: "http://x.test", fetch: f });
  await client.listExecutions("de mo", {
    limit: 5,
    status: "failed",
    event: undefined,
    cursor: "",
  });
  assert.equal(
    f.requests[0].url.href,
    "http://x.test/api/v1/tenants/de%20mo/executions?limit=5&status=failed",
  );
});

Deno.test("every endpoint uses its method and path", async () => {
  const f = fakeFetch((req) => {
    if (req.method === "DELETE") return new Response(null, { status: 204 });
    if (req.url.pathname.endsWith("/packages")) return json({ packages: [] });
    if (req.url.pathname.endsWith("/versions")) return json({ versions: [] });
    if (req.url.pathname.endsWith("/files")) return json({ files: [] });
    if (req.url.pathname.startsWith("/events/")) {
      return json({ accepted: 2, ids: ["a", "b"] });
    }
    if (req.method === "GET" && req.url.pathname.includes("/files/")) {
      return new Response(new Uint8Array([0, 97, 115, 109]));
    }
    return json({ tenant: "demo", id: "greet", version: 4, name: "g.wasm" });
  });
  const c = new JobicoClient({ url: "http://x.test", fetch: f });
  await c.listPackages("demo");
  await c.getPackage("demo", "greet");
  await c.listVersions("demo", "greet");
  await c.rollback("demo", "greet", 1);
  await c.deletePackage("demo", "greet");
  await c.uploadFile("demo", "g.wasm", "wasm", new Uint8Array([0, 97]));
  assert.deepEqual(
    await c.getFile("demo", "g.wasm"),
    new Uint8Array([0, 97, 115, 109]),
  );
  await c.listFiles("demo");
  assert.deepEqual(await c.sendEvents("demo", "greet", [{ a: 1 }, 2]), {
    accepted: 2,
    ids: ["a", "b"],
  });
  await c.meta();
  assert.deepEqual(
    f.requests.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`),
    [
      "GET /api/v1/tenants/demo/packages",
      "GET /api/v1/tenants/demo/packages/greet",
      "GET /api/v1/tenants/demo/packages/greet/versions",
      "POST /api/v1/tenants/demo/packages/greet/rollback",
      "DELETE /api/v1/tenants/demo/packages/greet",
      "PUT /api/v1/tenants/demo/files/g.wasm?kind=wasm",
      "GET /api/v1/tenants/demo/files/g.wasm",
      "GET /api/v1/tenants/demo/files",
      "POST /events/demo/greet",
      "GET /meta",
    ],
  );
  assert.equal(f.requests[3].body, '{"version":1}');
  assert.equal(f.requests[8].body, '{"data":[{"a":1},2]}');
});

Deno.test("problem+json errors become ApiError", async () => {
  const issues = [{
    kind: "reference",
    path: "jobs[0].event.supplierqueue",
    message: 'Unknown queue "nope"',
    line: 7,
    col: 22,
  }];
  const f = fakeFetch(() =>
    problem(422, "Unresolved references", "1 issue", { issues })
  );
  const client = new JobicoClient({ url: "http://x.test", fetch: f });
  const error = await client.deploy("x").catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.status, 422);
  assert.equal(error.title, "Unresolved references");
  assert.equal(error.detail, "1 issue");
  assert.equal(error.type, "about:blank");
  assert.deepEqual(error.body.issues, issues);
  assert.deepEqual(error.issues, issues);
  assert.equal(error.message, "Unresolved references: 1 issue");
});

Deno.test("non-JSON error bodies still give an ApiError", async () => {
  const f = fakeFetch(() =>
    new Response("upstream broke", { status: 502, statusText: "Bad Gateway" })
  );
  const client = new JobicoClient({ url: "http://x.test", fetch: f });
  const error = await client.listFiles("demo").catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.status, 502);
  assert.equal(error.title, "Bad Gateway");
  assert.equal(error.detail, "upstream broke");
  assert.deepEqual(error.issues, []);
});

Deno.test("a failing /healthz (503) is returned, not thrown", async () => {
  const f = fakeFetch(() =>
    json({ status: "failing", checks: { kv: "down" } }, 503)
  );
  const client = new JobicoClient({ url: "http://x.test", fetch: f });
  assert.deepEqual(await client.health(), {
    status: "failing",
    checks: { kv: "down" },
  });
});

Deno.test("a closed port gives a ConnectionError", async () => {
  const url = closedPortUrl();
  const client = new JobicoClient({ url });
  const error = await client.health().catch((e) => e);
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.url, url);
  assert.match(
    error.message,
    /^Cannot reach Jobico at http:\/\/127\.0\.0\.1:\d+: /,
  );
  assert.match(error.reason, /refused/i);
});

Deno.test("fetchFailureReason keeps the useful part of Deno's message", () => {
  const error = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (http://127.0.0.1:1/healthz): client " +
        "error (Connect): tcp connect error: Connection refused (os error 111)",
    ),
  });
  assert.equal(
    fetchFailureReason(error),
    "tcp connect error: Connection refused (os error 111)",
  );
  assert.equal(fetchFailureReason(new TypeError("Invalid URL")), "Invalid URL");
});

Deno.test("readSse handles chunk boundaries anywhere", async () => {
  const text = "\ufeff: connected\n\nevent: execution\nid: 1\n" +
    'data: {"a":"é"}\n\r\n' +
    "data: one\r\ndata: two\r\rdata: three\r\n\r\n" +
    "event: other\ndata:no-space\n\n" +
    "retry: 3000\ndata\n\n" +
    "data: dropped without blank line";
  const bytes = new TextEncoder().encode(text);
  const expected: SseMessage[] = [
    { event: "execution", data: '{"a":"é"}', id: "1" },
    { event: "message", data: "one\ntwo", id: "1" },
    { event: "message", data: "three", id: "1" },
    { event: "other", data: "no-space", id: "1" },
    { event: "message", data: "", id: "1", retry: 3000 },
  ];
  // Whole, byte by byte (splits the UTF-8 é and every CRLF), and in threes.
  for (const size of [bytes.length, 1, 3]) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += size) {
      chunks.push(bytes.slice(i, i + size));
    }
    assert.deepEqual(await collect(streamOf(chunks)), expected, `size ${size}`);
  }
});

Deno.test("readSse: a CR at the very end still ends the line", async () => {
  assert.deepEqual(await collect(streamOf(["data: x\r", "\r"])), [
    { event: "message", data: "x" },
  ]);
});

Deno.test("streamExecutions yields execution events only", async () => {
  const a = sampleExecution({ id: "a" });
  const b = sampleExecution({ id: "b", status: "failed" });
  const wire =
    `: connected\n\nevent: execution\nid: a\ndata: ${
      JSON.stringify(a)
    }\n\n: keep-alive\n\nevent: ping\ndata: {}\n\n` +
    `event: execution\nid: b\ndata: ${JSON.stringify(b)}\n\n`;
  const chunks = wire.match(/[\s\S]{1,7}/g)!;
  const f = fakeFetch(() =>
    new Response(streamOf(chunks), {
      headers: { "content-type": "text/event-stream" },
    })
  );
  const client = new JobicoClient({ url: "http://x.test", fetch: f });
  const seen = [];
  for await (
    const e of await client.streamExecutions("demo", {
      package: "greet",
      status: "failed",
    })
  ) seen.push(e);
  assert.deepEqual(seen, [a, b]);
  assert.equal(
    f.requests[0].url.search,
    "?package=greet&status=failed",
  );
  assert.equal(f.requests[0].headers.get("accept"), "text/event-stream");
});

Deno.test("streamExecutions stops quietly when its signal aborts", async () => {
  const controller = new AbortController();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(
        `event: execution\ndata: ${JSON.stringify(sampleExecution())}\n\n`,
      ));
      // Never closes: only the abort ends it.
    },
  });
  // Unlike Deno's fetch, this body ignores the signal: readSse must stop.
  const f: typeof fetch = () => Promise.resolve(new Response(body));
  const client = new JobicoClient({ url: "http://x.test", fetch: f });
  const stream = await client.streamExecutions("demo", {
    signal: controller.signal,
  });
  let count = 0;
  for await (const _ of stream) {
    count++;
    controller.abort();
  }
  assert.equal(count, 1);
});

Deno.test("streamExecutions reports HTTP errors before streaming", async () => {
  const f = fakeFetch(() => problem(404, "Not Found", 'Tenant "x" not found'));
  const client = new JobicoClient({ url: "http://x.test", fetch: f });
  await assert.rejects(
    client.streamExecutions("x"),
    (e) => e instanceof ApiError && e.status === 404,
  );
});

Deno.test("queue endpoints use their method, path and body", async () => {
  const f = fakeFetch((req) => {
    if (req.url.pathname.endsWith("/queues")) return json({ queues: [] });
    if (req.url.pathname.endsWith("/replay")) {
      return json({ replayed: 0, ids: [], notFound: [] });
    }
    if (req.method === "DELETE") return json({ purged: 0 });
    if (req.url.pathname.endsWith("/dead")) {
      return json({ dead: [], cursor: null });
    }
    return json({ id: "q" });
  });
  const c = new JobicoClient({ url: "http://x.test", fetch: f });
  assert.deepEqual(await c.listQueues("demo"), []);
  await c.getQueue("demo", "q 1");
  await c.listDeadLetters("demo", "q", { limit: 5, cursor: "AmE=" });
  await c.replayDeadLetters("demo", "q", ["a", "b"]);
  await c.replayDeadLetters("demo", "q");
  await c.purgeDeadLetters("demo", "q", ["a"]);
  await c.purgeDeadLetters("demo", "q", []);
  assert.deepEqual(
    f.requests.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`),
    [
      "GET /api/v1/tenants/demo/queues",
      "GET /api/v1/tenants/demo/queues/q%201",
      "GET /api/v1/tenants/demo/queues/q/dead?limit=5&cursor=AmE%3D",
      "POST /api/v1/tenants/demo/queues/q/dead/replay",
      "POST /api/v1/tenants/demo/queues/q/dead/replay",
      "DELETE /api/v1/tenants/demo/queues/q/dead",
      "DELETE /api/v1/tenants/demo/queues/q/dead",
    ],
  );
  assert.deepEqual(f.requests.slice(3).map((r) => r.body), [
    '{"ids":["a","b"]}',
    "{}",
    '{"ids":["a"]}',
    "{}",
  ]);
});
