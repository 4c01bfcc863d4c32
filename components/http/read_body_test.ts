import assert from "node:assert/strict";
import { DomainError, problemStatus } from "@jobico/goico";
import { decodeUtf8, maxChunks, readBytes } from "./read_body.ts";

const MAX = 1000;

/** A real server that answers how many body bytes `readBytes` read, or the error's status. */
async function withServer(
  fn: (port: number) => Promise<void>,
  max = MAX,
): Promise<void> {
  const ac = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
  }, async (req) => {
    try {
      const bytes = await readBytes(req, max, "Test body");
      if (new URL(req.url).searchParams.has("text")) {
        return new Response(`read ${new TextDecoder().decode(bytes)}`);
      }
      return new Response(`read ${bytes.length}`);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      return new Response(err.message, { status: problemStatus(err) });
    }
  });
  try {
    await fn(server.addr.port);
  } finally {
    ac.abort();
    await server.finished;
  }
}

/** Sends raw bytes on a new connection and returns the first response's status line and body. */
async function raw(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request)).catch(() => {});
    const buf = new Uint8Array(4096);
    let text = "";
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      const head = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (head >= 0 && length && text.length >= head + 4 + Number(length)) {
        break;
      }
    }
    const [status] = text.split("\r\n");
    return `${status.slice(9, 12)} ${text.slice(text.indexOf("\r\n\r\n") + 4)}`;
  } finally {
    conn.close();
  }
}

Deno.test("readBytes: a body with a Content-Length within the limit is read whole", () =>
  withServer(async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      body: "x".repeat(MAX),
    });
    assert.equal(await res.text(), `read ${MAX}`);
  }));

Deno.test("readBytes: a chunked body within the limit is read", () =>
  withServer(async (port) => {
    const chunks = ["a".repeat(400), "b".repeat(400)];
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      body: ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c))),
    });
    assert.equal(await res.text(), "read 800");
  }));

Deno.test("readBytes attack: a chunked body past the limit is a 413", () =>
  withServer(async (port) => {
    const chunk = `${(600).toString(16)}\r\n${"z".repeat(600)}\r\n`;
    const answer = await raw(
      port,
      "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n" +
        chunk + chunk + chunk + "0\r\n\r\n",
    );
    assert.match(
      answer,
      /^413 Test body is larger than the limit of 1000 bytes/,
    );
  }));

/** A chunked request whose body is `body`, one byte a chunk. */
function byteChunks(path: string, body: string): string {
  let req =
    `POST ${path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n`;
  for (const ch of body) req += `1\r\n${ch}\r\n`;
  return req + "0\r\n\r\n";
}

/**
 * 1-byte chunks written a thousand at a time, a few ms apart, so that the
 * server reads them in many pieces (as a slow client sends them).
 */
async function slowChunks(port: number, n: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  try {
    await conn.write(enc.encode(
      "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
    ));
    const piece = enc.encode("1\r\nx\r\n".repeat(1000));
    for (let i = 0; i < n; i += 1000) {
      await conn.write(piece);
      await new Promise((r) => setTimeout(r, 5));
    }
    await conn.write(enc.encode("0\r\n\r\n"));
    const buf = new Uint8Array(4096);
    const got = await conn.read(buf);
    const text = new TextDecoder().decode(buf.subarray(0, got ?? 0));
    return `${text.slice(9, 12)} ${text.slice(text.indexOf("\r\n\r\n") + 4)}`;
  } finally {
    conn.close();
  }
}

Deno.test("readBytes attack: a body in 1-byte chunks is read whole and keeps no buffer a chunk; past its chunk limit it is a 400", async () => {
  await withServer(async (port) => {
    assert.equal(
      await raw(port, byteChunks("/?text", "hello, world")),
      "200 read hello, world",
    );
  });
  const max = 1024 * 1024;
  assert.equal(maxChunks(max), 16_384);
  await withServer(async (port) => {
    // Each chunk came as a view of a 64 KiB buffer: keeping the views kept
    // 16,000 x 64 KiB (1 GB) for a 16 KB body until it was read.
    const before = Deno.memoryUsage().external;
    assert.equal(await slowChunks(port, 16_000), "200 read 16000");
    const grew = Deno.memoryUsage().external - before;
    assert.ok(
      grew < 256 * 1024 * 1024,
      `external memory grew ${grew >> 20} MiB`,
    );
    assert.match(
      await raw(port, byteChunks("/", "y".repeat(20_000))),
      /^400 Test body came in more than 16384 chunks; send it in fewer, larger chunks or with a Content-Length/,
    );
  }, max);
});

Deno.test("readBytes attack: a Content-Length past the limit is a 413 before the body is read", () =>
  withServer(async (port) => {
    const answer = await raw(
      port,
      `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${1e15}\r\n\r\n{}`,
    );
    assert.match(
      answer,
      /^413 Test body is 1000000000000000 bytes; the limit is 1000/,
    );
  }));

Deno.test("readBytes attack: a Content-Length smaller than what is sent reads only what it declares", () =>
  withServer(async (port) => {
    const answer = await raw(
      port,
      `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n${
        "y".repeat(100_000)
      }`,
    );
    // The rest is no part of the body: the server takes it for a next request.
    assert.match(answer, /^200 read 10(?!\d)/);
  }));

Deno.test("readBytes attack: an in-process Request that carries more than it declares is a 413", async () => {
  const req = new Request("http://x/", {
    method: "POST",
    headers: { "content-length": "10" },
    body: "w".repeat(MAX + 1),
  });
  await assert.rejects(
    () => readBytes(req, MAX, "Test body"),
    (err: unknown) => problemStatus(err) === 413,
  );
});

Deno.test("decodeUtf8: ASCII, UTF-8 and a BOM decode as TextDecoder does, small and large; invalid UTF-8 is a 400 naming the body", () => {
  const enc = new TextEncoder();
  const fatal = new TextDecoder("utf-8", { fatal: true });
  for (
    const text of [
      "",
      '{"data":[{"name":"Ada"}]}',
      '{"data":[{"name":"Zoë 🎉"}]}',
      "\uFEFF{}",
      "\u007f\u0000 control",
      "x".repeat(1024),
      "x".repeat(1023) + "é",
      "y".repeat(5000),
    ]
  ) {
    const bytes = enc.encode(text);
    assert.equal(decodeUtf8(bytes, "Body"), fatal.decode(bytes));
  }
  for (
    const bad of [
      new Uint8Array([0x7b, 0xff, 0x7d]),
      new Uint8Array([0xc3]),
      new Uint8Array([...enc.encode("a".repeat(2000)), 0xed, 0xa0, 0x80]),
    ]
  ) {
    assert.throws(
      () => decodeUtf8(bad, "Event body"),
      (e) =>
        e instanceof DomainError && problemStatus(e) === 400 &&
        /Event body is not valid UTF-8/.test(e.message),
    );
  }
});
