import assert from "node:assert/strict";
import {
  type ConnectionLimits,
  type GuardedServer,
  serveGuarded,
} from "./guarded_server.ts";
import { chunkedBody } from "./chunked_body.ts";
import { problemResponse } from "./problem.ts";
import { silentLogger } from "./logger.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function start(
  handler: (req: Request) => Response | Promise<Response>,
  limits: Partial<ConnectionLimits> = {},
): GuardedServer {
  const server = serveGuarded(handler, {
    hostname: "127.0.0.1",
    port: 0,
    limits: {
      maxConnections: limits.maxConnections ?? 100,
      headerTimeoutMs: limits.headerTimeoutMs ?? 60_000,
      idleTimeoutMs: limits.idleTimeoutMs ?? 60_000,
      requestTimeoutMs: limits.requestTimeoutMs ?? 60_000,
    },
    onError: (err) => problemResponse(err),
    logger: silentLogger,
  });
  assert.ok(server, "this Deno serves accepted connections");
  return server;
}

const connect = (s: GuardedServer) =>
  Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });

/** Reads until the server closes the connection (or `deadlineMs` passes: then throws). */
async function readToClose(
  conn: Deno.Conn,
  ms = 15_000,
): Promise<string> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    conn.close();
  }, ms);
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf).catch(() => null); // a reset closes too
      if (late) throw new Error(`Still open after ${ms} ms; read: ${text}`);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Reads one response with a Content-Length body, leaving the connection open. */
async function readResponse(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text;
    }
    const n = await conn.read(buf);
    if (n === null) throw new Error(`Closed mid-response: ${text}`);
    text += dec.decode(buf.subarray(0, n));
  }
}

/** Writes `bytes` one at a time every `everyMs` until the connection fails; resolves then. */
function trickle(conn: Deno.Conn, bytes: string, everyMs: number) {
  return (async () => {
    for (let i = 0;; i = (i + 1) % bytes.length) {
      try {
        await conn.write(enc.encode(bytes[i]));
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
}

async function until(cond: () => boolean, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ok = () => new Response("ok");

Deno.test("serveGuarded: answers requests, several on one keep-alive connection, and counts its connections", async () => {
  const server = start((req) => new Response(new URL(req.url).pathname));
  try {
    const conn = await connect(server);
    for (const path of ["/a", "/b", "/c"]) {
      await conn.write(enc.encode(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`));
      const res = await readResponse(conn);
      assert.match(res, /^HTTP\/1\.1 200/);
      assert.ok(res.endsWith(path));
    }
    conn.close();
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/d`);
    assert.equal(await res.text(), "/d");
    const stats = server.stats();
    assert.equal(stats.accepted, 2);
    assert.equal(stats.rejected + stats.evicted, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: a connection that sends nothing is closed after headerTimeoutMs", async () => {
  const server = start(ok, { headerTimeoutMs: 300 });
  try {
    const began = Date.now();
    await readToClose(await connect(server));
    assert.ok(Date.now() - began >= 300);
    await until(() => server.stats().timedOut.header === 1, "the count");
    assert.equal(server.stats().open, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: attack: headers sent a byte every 20 ms are cut after headerTimeoutMs", async () => {
  const server = start(ok, { headerTimeoutMs: 400 });
  try {
    const conn = await connect(server);
    const began = Date.now();
    const writing = trickle(
      conn,
      "GET / HTTP/1.1\r\nx-slow: " + "a".repeat(500),
      20,
    );
    const read = await readToClose(conn);
    assert.equal(read, "", "no response to a request never completed");
    assert.ok(Date.now() - began >= 400);
    await writing;
    assert.equal(server.stats().timedOut.header, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: an idle keep-alive connection is closed after idleTimeoutMs", async () => {
  const server = start(ok, { idleTimeoutMs: 300 });
  try {
    const conn = await connect(server);
    const asked = Date.now();
    await conn.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    assert.match(await readResponse(conn), /^HTTP\/1\.1 200/);
    assert.equal(await readToClose(conn), "");
    assert.ok(Date.now() - asked >= 300);
    assert.equal(server.stats().timedOut.idle, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: attack: after a first request, the next one's headers sent slowly are cut after idleTimeoutMs", async () => {
  const server = start(ok, { headerTimeoutMs: 60_000, idleTimeoutMs: 400 });
  try {
    const conn = await connect(server);
    await conn.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    assert.match(await readResponse(conn), /^HTTP\/1\.1 200/);
    const writing = trickle(
      conn,
      "GET / HTTP/1.1\r\nx-slow: " + "a".repeat(500),
      20,
    );
    assert.equal(await readToClose(conn), "");
    await writing;
    assert.equal(server.stats().timedOut.idle, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: attack: a body sent a byte every 20 ms is cut after requestTimeoutMs", async () => {
  let bodies = 0;
  const server = start(async (req) => {
    await req.text();
    bodies++;
    return ok();
  }, { requestTimeoutMs: 400 });
  try {
    const conn = await connect(server);
    await conn.write(enc.encode(
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n",
    ));
    const writing = trickle(conn, "x", 20);
    assert.equal(await readToClose(conn), "");
    await writing;
    assert.equal(server.stats().timedOut.request, 1);
    assert.equal(bodies, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: attack: a client that never reads a large answer given whole is cut after idleTimeoutMs (Deno counts the answer as sent at once)", async () => {
  const big = new Uint8Array(32 * 1024 * 1024);
  const server = start(() => new Response(big), { idleTimeoutMs: 300 });
  try {
    const conn = await connect(server);
    await conn.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    // Nothing is read: the answer stops in the socket buffers.
    await until(() => server.stats().open === 0, "the cut");
    assert.equal(server.stats().timedOut.idle, 1);
    conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: attack: a client that never reads a large streamed answer is cut after requestTimeoutMs", async () => {
  const chunk = new Uint8Array(1024 * 1024);
  const server = start(() => {
    let sent = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(ctrl) {
          if (sent++ === 32) ctrl.close();
          else ctrl.enqueue(chunk);
        },
      }),
    );
  }, { requestTimeoutMs: 300 });
  try {
    const conn = await connect(server);
    await conn.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    await until(() => server.stats().open === 0, "the cut");
    assert.equal(server.stats().timedOut.request, 1);
    conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: a large answer in chunks reaches a client that reads it slowly, past idleTimeoutMs", async () => {
  const bytes = new Uint8Array(8 * 1024 * 1024).fill(7);
  const server = start(
    () =>
      new Response(chunkedBody(bytes), {
        headers: { "content-length": String(bytes.length) },
      }),
    { idleTimeoutMs: 300 },
  );
  try {
    const conn = await connect(server);
    await conn.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    const buf = new Uint8Array(256 * 1024);
    let head = "";
    let body = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const n = await conn.read(buf);
      if (n === null) break;
      if (!head.includes("\r\n\r\n")) {
        head += dec.decode(buf.subarray(0, n));
        const end = head.indexOf("\r\n\r\n");
        if (end >= 0) {
          body += new TextEncoder().encode(head.slice(end + 4)).length;
        }
      } else body += n;
      if (body >= bytes.length) break;
    }
    conn.close();
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.equal(body, bytes.length);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: a streamed response outlasts every timeout", async () => {
  const server = start(() => {
    let n = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        timer = setInterval(() => {
          ctrl.enqueue(enc.encode(`data: ${n}\n\n`));
          if (++n === 8) {
            clearInterval(timer);
            ctrl.close();
          }
        }, 100);
      },
      cancel() {
        clearInterval(timer);
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream" },
    });
  }, { headerTimeoutMs: 200, idleTimeoutMs: 200, requestTimeoutMs: 200 });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const text = await res.text();
    assert.ok(text.includes("data: 7"), text);
    const t = server.stats().timedOut;
    assert.equal(t.header + t.idle + t.request, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: at maxConnections, the connection that waited longest is closed and a whole request is answered", async () => {
  const server = start(ok, { maxConnections: 5 });
  try {
    const idle = [];
    for (let i = 0; i < 5; i++) idle.push(await connect(server));
    await until(() => server.stats().open === 5, "5 open");
    const oldest = readToClose(idle[0]);
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
    assert.equal(await oldest, "");
    assert.equal(server.stats().evicted, 1);
    for (const c of idle.slice(1)) c.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveGuarded: attack: when every connection has a request in progress, one more is answered 503 problem+json with Retry-After, and the server lives", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const server = start(async () => {
    await gate;
    return ok();
  }, { maxConnections: 3 });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const held = [1, 2, 3].map(() => fetch(base + "/held"));
    await until(
      () => server.stats().open === 3 && server.stats().waiting === 0,
      "3 busy",
    );
    // Several over the limit, an idle one and one that sends a request.
    const quiet = await connect(server);
    const eager = await connect(server);
    await eager.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    for (const raw of [await readToClose(quiet), await readToClose(eager)]) {
      assert.match(raw, /^HTTP\/1\.1 503/);
      assert.match(raw, /retry-after: 1/i);
      assert.match(raw, /content-type: application\/problem\+json/i);
      const body = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));
      assert.equal(body.status, 503);
      assert.match(body.detail, /3 connections/);
    }
    assert.equal(server.stats().rejected, 2);
    release();
    for (const res of await Promise.all(held)) {
      assert.equal(await res.text(), "ok");
    }
    assert.equal((await fetch(base + "/after")).status, 200);
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("serveGuarded: attack: 1,000 idle connections over a limit of 50 are closed, and a client with a whole request still gets in", async () => {
  const server = start(ok, { maxConnections: 50 });
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 1000; i++) conns.push(await connect(server));
    await until(() => server.stats().accepted === 1000, "1,000 accepted");
    assert.equal(server.stats().evicted, 950);
    await until(() => server.stats().open === 50, "the 950 closed");
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await res.text(), "ok");
  } finally {
    for (const c of conns) c.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded: shutdown closes waiting connections at once and waits for a request in progress", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const server = start(async () => {
    await gate;
    return new Response("late");
  });
  const idle = await connect(server);
  const pending = fetch(`http://127.0.0.1:${server.addr.port}/`);
  await until(
    () => server.stats().waiting === 1 && server.stats().open === 2,
    "1 busy",
  );
  const stopped = server.shutdown();
  assert.equal(await readToClose(idle), "");
  let done = false;
  stopped.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, false, "waits for the request in progress");
  release();
  assert.equal(await (await pending).text(), "late");
  await stopped;
  await server.finished;
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
  );
});

Deno.test("serveGuarded: connections that close by themselves while the server cuts them do not end the process", async () => {
  // Deno closes a connection its client closed in several steps; the
  // server cuts some of these 300 in between.
  for (const wait of [0, 5, 20]) {
    const server = start(ok);
    const conns = [];
    for (let i = 0; i < 300; i++) conns.push(await connect(server));
    await until(() => server.stats().accepted === 300, "300 accepted");
    for (const c of conns) c.close();
    await new Promise((r) => setTimeout(r, wait));
    await server.shutdown();
    assert.equal(server.stats().open, 0);
  }
});
