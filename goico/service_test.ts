import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { ValidationError } from "./domain_error.ts";
import { jsonLogger, silentLogger } from "./logger.ts";
import {
  type AccessLog,
  connectionLimits,
  onShutdownSignal,
  serve,
  serviceApp,
} from "./service.ts";
import { fdLimit, maxConnectionsFor } from "./fd_limit.ts";

function capturingLogger() {
  const lines: string[] = [];
  const logger = jsonLogger({ write: (line) => lines.push(line) });
  return {
    logger,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function testApp(
  options: {
    health?: () => Record<string, string>;
    accessLog?: AccessLog;
  } = {},
) {
  const log = capturingLogger();
  const app = serviceApp({
    name: "testsvc",
    version: "1.2.3",
    logger: log.logger,
    meta: () => ({ role: "tester" }),
    health: options.health,
    accessLog: options.accessLog,
    slowRequestMs: 50,
  });
  app.get("/slow", async (c) => {
    await new Promise((r) => setTimeout(r, 60));
    return c.text("done");
  });
  app.get("/invalid", () => {
    throw new ValidationError("name is required", {
      issues: [{ path: "/name", message: "missing" }],
    });
  });
  app.get("/boom", () => {
    throw new Error("secret connection string postgres://u:p@db");
  });
  app.get("/teapot", () => {
    throw new HTTPException(418, { message: "short and stout" });
  });
  return { app, ...log };
}

Deno.test("serviceApp: /healthz answers 200 {status: ok}", async () => {
  const { app } = testApp();
  const res = await app.request("/healthz");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(await res.json(), { status: "ok", checks: {} });
});

Deno.test("serviceApp: /healthz answers 503 when a check fails", async () => {
  const { app } = testApp({ health: () => ({ kv: "ok", disk: "full" }) });
  const res = await app.request("/healthz");
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), {
    status: "failing",
    checks: { kv: "ok", disk: "full" },
  });
});

Deno.test("serviceApp: /meta has name, version and extra members", async () => {
  const { app } = testApp();
  const res = await app.request("/meta");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    name: "testsvc",
    version: "1.2.3",
    role: "tester",
  });
});

Deno.test("serviceApp: /meta may be computed asynchronously", async () => {
  const app = serviceApp({
    name: "async",
    version: "1.0.0",
    logger: silentLogger,
    meta: async () => ({ answer: await Promise.resolve(42) }),
  });
  assert.deepEqual(await (await app.request("/meta")).json(), {
    name: "async",
    version: "1.0.0",
    answer: 42,
  });
});

Deno.test("serviceApp: an unknown route is a 404 problem naming method and path", async () => {
  const { app } = testApp();
  const res = await app.request("/nowhere/at-all", { method: "DELETE" });
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.status, 404);
  assert.equal(body.title, "Not found");
  assert.equal(body.instance, "/nowhere/at-all");
  assert.match(body.detail, /DELETE/);
  assert.match(body.detail, /\/nowhere\/at-all/);
});

Deno.test("serviceApp: a ValidationError is a 400 problem with detail and extra members", async () => {
  const { app, records } = testApp();
  const res = await app.request("/invalid");
  assert.equal(res.status, 400);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.deepEqual(await res.json(), {
    type: "about:blank",
    title: "Invalid request",
    status: 400,
    detail: "name is required",
    instance: "/invalid",
    issues: [{ path: "/name", message: "missing" }],
  });
  // An expected error is not logged as an unhandled one.
  assert.ok(!records().some((r) => r.msg === "unhandled error"));
});

Deno.test("serviceApp: a plain Error is a 500 that does not leak its message", async () => {
  const { app, lines, records } = testApp();
  const res = await app.request("/boom");
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const text = await res.text();
  assert.ok(!text.includes("secret"), text);
  assert.ok(!text.includes("postgres"), text);
  const body = JSON.parse(text);
  assert.equal(body.status, 500);
  assert.equal(body.title, "Internal server error");
  // The server log has it.
  const logged = records().find((r) => r.msg === "unhandled error");
  assert.ok(logged, lines.join("\n"));
  assert.equal(logged.level, "error");
  assert.match(String(logged.error), /secret connection string/);
});

Deno.test("serviceApp: a Hono HTTPException keeps its status as a problem", async () => {
  const { app } = testApp();
  const res = await app.request("/teapot");
  assert.equal(res.status, 418);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.status, 418);
  assert.equal(body.detail, "short and stout");
});

Deno.test("serviceApp: each request is logged as a JSON line with method, path and status", async () => {
  const { app, lines } = testApp();
  await (await app.request("/healthz")).body?.cancel();
  await (await app.request("/nope", { method: "POST" })).body?.cancel();
  await (await app.request("/invalid")).body?.cancel();
  await (await app.request("/boom")).body?.cancel();

  const requests = lines.map((l) => JSON.parse(l)).filter((r) =>
    r.msg === "request"
  );
  assert.deepEqual(
    requests.map((r) => [r.method, r.path, r.status]),
    [
      ["GET", "/healthz", 200],
      ["POST", "/nope", 404],
      ["GET", "/invalid", 400],
      ["GET", "/boom", 500],
    ],
  );
  for (const r of requests) {
    assert.equal(r.level, "info");
    assert.equal(typeof r.ms, "number");
    assert.ok(!Number.isNaN(Date.parse(r.time)));
  }
  // Every line is one JSON object on one line.
  assert.ok(lines.every((l) => !l.includes("\n")));
});

Deno.test("serve: port 0 answers a real fetch, and shutdown() completes", async () => {
  const { app } = testApp();
  const server = serve(app.fetch, { port: 0, logger: silentLogger });
  try {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    const res = await fetch(`${server.url}/meta`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).name, "testsvc");

    const missing = await fetch(`${server.url}/missing`);
    assert.equal(missing.status, 404);
    assert.equal(
      missing.headers.get("content-type"),
      "application/problem+json",
    );
    await missing.body?.cancel();
  } finally {
    await server.shutdown();
    await server.finished;
  }
  // Nothing listens any more.
  await assert.rejects(() => fetch(`${server.url}/healthz`));
});

Deno.test("serve: a failing raw handler gives a 500 problem and a log line", async () => {
  const log = capturingLogger();
  const server = serve(() => {
    throw new Error("raw handler failed");
  }, { port: 0, logger: log.logger });
  try {
    const res = await fetch(`${server.url}/x`);
    assert.equal(res.status, 500);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const text = await res.text();
    assert.ok(!text.includes("raw handler failed"));
    const logged = log.records().find((r) => r.msg === "server error");
    assert.ok(logged);
    assert.match(String(logged.error), /raw handler failed/);
  } finally {
    await server.shutdown();
  }
});

Deno.test({
  name: "onShutdownSignal: stop is called once for several signals",
  ignore: Deno.build.os === "windows",
  async fn() {
    let stops = 0;
    const remove = onShutdownSignal(() => stops++);
    // A listener of our own tells when each signal has been dispatched.
    let seen = 0;
    let onSeen: (() => void) | undefined;
    const mine = () => {
      seen++;
      onSeen?.();
    };
    Deno.addSignalListener("SIGTERM", mine);
    const nextSignal = (target: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("signal not delivered")),
          5000,
        );
        onSeen = () => {
          if (seen >= target) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
    try {
      const first = nextSignal(1);
      Deno.kill(Deno.pid, "SIGTERM");
      await first;
      assert.equal(stops, 1);
      const second = nextSignal(2);
      Deno.kill(Deno.pid, "SIGTERM");
      await second;
      assert.equal(stops, 1, "stop runs only once");
    } finally {
      Deno.removeSignalListener("SIGTERM", mine);
      remove();
    }
  },
});

Deno.test("serviceApp: /meta without access has name, version and the public members only", async () => {
  const app = serviceApp({
    name: "svc",
    version: "1.0.0",
    logger: silentLogger,
    meta: () => ({ secret: "load" }),
    publicMeta: () => ({ instance: "a" }),
    metaAccess: (req) => req.headers.get("authorization") === "Bearer ok",
  });
  assert.deepEqual(await (await app.request("/meta")).json(), {
    name: "svc",
    version: "1.0.0",
    instance: "a",
  });
  assert.deepEqual(
    await (await app.request("/meta", {
      headers: { authorization: "Bearer ok" },
    })).json(),
    { name: "svc", version: "1.0.0", instance: "a", secret: "load" },
  );
});

Deno.test("serviceApp: a store failure thrown by a handler is a 503 with Retry-After, told to onStoreFailure, never a 500", async () => {
  const seen: unknown[] = [];
  const app = serviceApp({
    name: "svc",
    version: "1.0.0",
    logger: silentLogger,
    onStoreFailure: (err) => seen.push(err.reason),
  });
  // What Deno KV throws when SQLite cannot write (a full disk).
  app.post("/write", () => {
    throw new TypeError("database or disk is full");
  });
  const res = await app.request("/write", { method: "POST" });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.title, "Store unavailable");
  assert.equal(body.store, "full");
  assert.deepEqual(seen, ["full"]);
});

Deno.test("connectionLimits: defaults, and a setting left undefined keeps its default", () => {
  const defaults = {
    maxConnections: maxConnectionsFor(fdLimit()?.soft),
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 5_000,
    requestTimeoutMs: 60_000,
  };
  assert.deepEqual(connectionLimits(), defaults);
  assert.deepEqual(
    connectionLimits({ maxConnections: undefined, idleTimeoutMs: 50 }),
    { ...defaults, idleTimeoutMs: 50 },
  );
});

Deno.test("serve: enforces the connection limits it was given and reports them", async () => {
  const server = serve(() => new Response("ok"), {
    port: 0,
    logger: silentLogger,
    connections: { headerTimeoutMs: 200 },
  });
  try {
    assert.equal(server.connections?.headerTimeoutMs, 200);
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    // Nothing is sent: the server closes it after 200 ms.
    assert.equal(await conn.read(new Uint8Array(16)), null);
    conn.close();
    assert.equal(server.connectionStats()?.timedOut.header, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serviceApp: accessLog errors logs requests answered 400 or more, and slow ones; off logs none", async () => {
  for (
    const [mode, want] of [
      ["errors", [
        ["POST", "/nope", 404],
        ["GET", "/invalid", 400],
        ["GET", "/boom", 500],
        ["GET", "/slow", 200],
      ]],
      ["off", []],
      ["all", [
        ["GET", "/healthz", 200],
        ["POST", "/nope", 404],
        ["GET", "/invalid", 400],
        ["GET", "/boom", 500],
        ["GET", "/slow", 200],
      ]],
    ] as const
  ) {
    const { app, records } = testApp({ accessLog: mode });
    for (
      const [method, path] of [
        ["GET", "/healthz"],
        ["POST", "/nope"],
        ["GET", "/invalid"],
        ["GET", "/boom"],
        ["GET", "/slow"],
      ]
    ) await (await app.request(path, { method })).body?.cancel();
    const requests = records().filter((r) => r.msg === "request");
    assert.deepEqual(
      requests.map((r) => [r.method, r.path, r.status]),
      want,
      mode,
    );
    // The unhandled error is logged whatever the access log says.
    assert.ok(records().some((r) => r.msg === "unhandled error"), mode);
  }
});
