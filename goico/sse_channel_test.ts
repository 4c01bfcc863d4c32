import assert from "node:assert/strict";
import { DEFAULT_SSE_BUFFER_BYTES, SseChannel } from "./sse_channel.ts";
import { encodeSse } from "./sse_message.ts";

const text = new TextDecoder();
const CONNECTED = ": connected\n\n".length;

/** A message of `size` bytes on the wire with an id. */
function message(id: string, size: number): Uint8Array {
  const head = encodeSse({ event: "execution", id, data: "" }).length;
  return encodeSse({ event: "execution", id, data: "x".repeat(size - head) });
}

/** Reads the body to its end; a stall of 5 s fails. */
async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  const reader = body.getReader();
  let out = "";
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Read stalled: ${out}`)), 5000);
    });
    try {
      const { done, value } = await Promise.race([reader.read(), stalled]);
      if (done) return out;
      out += text.decode(value, { stream: true });
    } finally {
      clearTimeout(timer);
    }
  }
}

Deno.test("SseChannel: what the client has not read waits in the channel, counted in bytes", async () => {
  const ch = new SseChannel({ maxBufferedBytes: 4096 });
  assert.equal(ch.bufferedBytes, CONNECTED);
  assert.ok(ch.offer(message("a", 1000), "a"));
  assert.ok(ch.offer(message("b", 1000), "b"));
  assert.equal(ch.bufferedBytes, CONNECTED + 2000);
  const reader = ch.body.getReader();
  // One read takes everything that waited, as one chunk.
  const { value } = await reader.read();
  assert.equal(value!.length, CONNECTED + 2000);
  assert.equal(ch.bufferedBytes, 0);
  assert.equal(ch.lastSentId, "b");
  assert.equal(ch.peakBufferedBytes, CONNECTED + 2000);
  ch.close();
  assert.equal((await reader.read()).done, true);
  assert.equal(await ch.ended, "closed");
});

Deno.test("SseChannel: an offer past the buffer drops the stream; what waited is thrown away and a last event says why", async () => {
  const ch = new SseChannel({ maxBufferedBytes: 4096 });
  const reader = ch.body.getReader();
  await reader.read(); // ": connected"
  assert.ok(ch.offer(message("a", 1000), "a"));
  await reader.read(); // the client took "a"
  // The client stops reading: 4 messages fit, the fifth does not.
  for (const id of ["b", "c", "d", "e"]) {
    assert.ok(ch.offer(message(id, 1000), id));
  }
  assert.equal(ch.bufferedBytes, 4000);
  assert.equal(ch.offer(message("f", 1000), "f"), false);
  assert.equal(ch.open, false);
  assert.ok(ch.signal.aborted);
  assert.match(
    ch.dropReason!,
    /^The client fell behind: 4000 bytes were waiting for it and 1000 more came \(its buffer holds 4096\)$/,
  );
  // Nothing more is taken, and the memory is given back at once.
  assert.equal(ch.offer(message("g", 100), "g"), false);
  assert.equal(await ch.write(message("g", 100), "g"), false);
  assert.ok(ch.bufferedBytes < 300, `${ch.bufferedBytes} bytes still wait`);
  assert.ok(ch.peakBufferedBytes <= 4096);
  reader.releaseLock();
  const rest = await readAll(ch.body);
  assert.ok(!rest.includes("id: b"), rest);
  const [event, data] = rest.trimEnd().split("\n");
  assert.equal(event, "event: dropped");
  const notice = JSON.parse(data.slice("data: ".length));
  assert.equal(notice.lastEventId, "a");
  assert.equal(notice.reason, ch.dropReason);
  assert.match(notice.hint, /Last-Event-ID/);
  assert.equal(await ch.ended, "dropped");
});

Deno.test("SseChannel: the default buffer is 256 KiB and a client that never reads holds no more", async () => {
  const ch = new SseChannel();
  assert.equal(ch.maxBufferedBytes, DEFAULT_SSE_BUFFER_BYTES);
  assert.equal(DEFAULT_SSE_BUFFER_BYTES, 256 * 1024);
  let sent = 0;
  let n = 0;
  // The attack: offer 10 MiB to a client that reads nothing.
  while (sent < 10 * 1024 * 1024 && ch.offer(message(`m${n}`, 1500), `m${n}`)) {
    sent += 1500;
    n++;
    assert.ok(ch.bufferedBytes <= 256 * 1024);
  }
  assert.equal(ch.open, false, "the stream was dropped");
  assert.ok(sent <= 256 * 1024, `${sent} bytes were taken`);
  assert.ok(ch.peakBufferedBytes <= 256 * 1024);
  await ch.body.cancel();
  assert.equal(await ch.ended, "gone");
});

Deno.test("SseChannel: a message larger than the buffer goes through on its own", async () => {
  const ch = new SseChannel({ maxBufferedBytes: 1024 });
  const reader = ch.body.getReader();
  await reader.read();
  assert.ok(ch.offer(message("big", 5000), "big"));
  const { value } = await reader.read();
  assert.equal(value!.length, 5000);
  ch.close();
  await reader.read();
  assert.equal(await ch.ended, "closed");
});

Deno.test("SseChannel: write waits for room instead of dropping", async () => {
  const ch = new SseChannel({ maxBufferedBytes: 2048 });
  const written: string[] = [];
  const writing = (async () => {
    for (const id of ["a", "b", "c", "d", "e"]) {
      assert.ok(await ch.write(message(id, 1000), id));
      written.push(id);
    }
    ch.close();
  })();
  // Without a reader only what fits is queued: ": connected", a and b (c would pass 2048).
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(written, ["a", "b"]);
  assert.ok(ch.bufferedBytes <= 2048);
  const all = await readAll(ch.body);
  await writing;
  assert.deepEqual([...all.matchAll(/^id: (\w+)$/gm)].map((m) => m[1]), [
    "a",
    "b",
    "c",
    "d",
    "e",
  ]);
  assert.equal(await ch.ended, "closed");
  assert.ok(ch.peakBufferedBytes <= 2048);
});

Deno.test("SseChannel: a dropped stream whose client takes nothing is cut after the grace period", async () => {
  const ch = new SseChannel({ maxBufferedBytes: 1024, dropGraceMs: 50 });
  ch.drop("for the test");
  assert.equal(await ch.ended, "cut");
  await assert.rejects(
    () => readAll(ch.body),
    /^SseCutError: An event stream was cut: its client took nothing for 50 ms after it was dropped$/,
  );
});

Deno.test("SseChannel: keep-alives do not pile up for a client that reads nothing", async () => {
  const ch = new SseChannel({ heartbeatMs: 5 });
  const reader = ch.body.getReader();
  await reader.read();
  // Nothing waits: a keep-alive is queued, then no more while it waits.
  const deadline = Date.now() + 5000;
  while (ch.bufferedBytes === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const one = ch.bufferedBytes;
  assert.equal(one, ": keep-alive\n\n".length);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(ch.bufferedBytes, one);
  assert.equal(
    text.decode((await reader.read()).value),
    ": keep-alive\n\n",
  );
  await reader.cancel();
  assert.equal(await ch.ended, "gone");
});

Deno.test("SseChannel: at shutdown what waits is sent, then the stream ends", async () => {
  const shutdown = new AbortController();
  const ch = new SseChannel({ signal: shutdown.signal });
  assert.ok(ch.offer(message("a", 100), "a"));
  shutdown.abort();
  assert.equal(ch.open, false);
  const all = await readAll(ch.body);
  assert.match(all, /^: connected\n\nevent: execution\nid: a\n/);
  assert.equal(await ch.ended, "shutdown");
});

Deno.test("SseChannel: at shutdown a client that takes nothing is cut after the grace period", async () => {
  const shutdown = new AbortController();
  const ch = new SseChannel({ signal: shutdown.signal, dropGraceMs: 30 });
  shutdown.abort();
  assert.equal(await ch.ended, "cut");
  await assert.rejects(() => readAll(ch.body), /after the server shut down/);
});

Deno.test("SseChannel: at shutdown a client waiting for a message ends at once, as shut down", async () => {
  const shutdown = new AbortController();
  const ch = new SseChannel({ signal: shutdown.signal, dropGraceMs: 60_000 });
  const reader = ch.body.getReader();
  await reader.read(); // ": connected"
  const next = reader.read(); // waits: nothing is queued
  await new Promise((r) => setTimeout(r, 0)); // the body is pulling now
  shutdown.abort();
  assert.equal((await next).done, true);
  // No grace timer is left behind (the test's sanitizer would see it).
  assert.equal(await ch.ended, "shutdown");
});
