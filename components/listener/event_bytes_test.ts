import assert from "node:assert/strict";
import { eventBytes } from "./event_bytes.ts";
import { postTo, seen, stepApp } from "./_test_steps.ts";

const MAX = 1000;

/** The step on a real server; `fn` gets its port. */
async function serving(fn: (port: number) => Promise<void>): Promise<void> {
  const app = stepApp({}, eventBytes({ maxBytes: MAX }), seen);
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    app.fetch,
  );
  try {
    await fn(server.addr.port);
  } finally {
    ac.abort();
    await server.finished;
  }
}

/** Writes `head` (and nothing more) and reads the status line of the answer. */
async function statusOf(port: number, head: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(head));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0];
  } finally {
    conn.close();
  }
}

Deno.test("eventBytes reads the body within the limit and keeps its bytes", async () => {
  const app = stepApp({}, eventBytes({ maxBytes: MAX }), seen);
  for (const size of [0, 1, MAX]) {
    const res = await postTo(app, "x".repeat(size));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).bodyBytes, size);
  }
  const over = await postTo(app, "x".repeat(MAX + 1));
  assert.equal(over.status, 413);
  assert.match((await over.json()).detail, /limit of 1000 bytes/);
});

Deno.test("eventBytes keeps bytes a step before it read (a signature's) and reads nothing more", async () => {
  const read = new Uint8Array([1, 2, 3]);
  const app = stepApp({ bodyBytes: read }, eventBytes({ maxBytes: MAX }), seen);
  // A body that is never read: it would be a 413 if it were.
  const res = await postTo(app, "x".repeat(MAX * 10));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).bodyBytes, 3);
});

Deno.test("eventBytes: a declared length over the limit is a 413 before a byte of the body is sent", () =>
  serving(async (port) => {
    // The client sends only the head: the answer cannot wait for the body.
    const status = await statusOf(
      port,
      "POST /events/demo/greet HTTP/1.1\r\nhost: x\r\n" +
        `content-length: ${100 * 1024 * 1024}\r\n\r\n`,
    );
    assert.equal(status, "HTTP/1.1 413 Payload Too Large");
  }));

Deno.test("eventBytes: a chunked body is refused as soon as it passes the limit, however long it goes on", () =>
  serving(async (port) => {
    // An endless body of unknown length: refused once past the limit.
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        ctrl.enqueue(new Uint8Array(256));
      },
    });
    const res = await fetch(`http://127.0.0.1:${port}/events/demo/greet`, {
      method: "POST",
      body,
    });
    assert.equal(res.status, 413);
    assert.match((await res.json()).detail, /larger than the limit of 1000/);
  }));
