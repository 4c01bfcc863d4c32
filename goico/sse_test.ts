import assert from "node:assert/strict";
import { formatSse, type SseMessage, sseResponse } from "./sse.ts";

Deno.test("formatSse: event, id and multi-line data", () => {
  assert.equal(
    formatSse({ event: "execution", id: "42", data: "line 1\nline 2\n" }),
    "event: execution\nid: 42\ndata: line 1\ndata: line 2\ndata: \n\n",
  );
  assert.equal(formatSse({ data: '{"a":1}' }), 'data: {"a":1}\n\n');
  assert.equal(formatSse({ data: "" }), "data: \n\n");
});

/** Reads an SSE body as text; a read that takes over 5 s fails the test. */
class BodyReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  text = "";
  done = false;
  constructor(res: Response) {
    assert.ok(res.body);
    this.#reader = res.body.getReader();
  }

  async #read(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`SSE read timed out; got ${this.text}`)),
        5000,
      );
    });
    try {
      const { done, value } = await Promise.race([
        this.#reader.read(),
        timeout,
      ]);
      if (done) this.done = true;
      else this.text += this.#decoder.decode(value, { stream: true });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads until the text so far contains `needle`. */
  async until(needle: string): Promise<string> {
    while (!this.text.includes(needle)) {
      if (this.done) throw new Error(`Stream ended without ${needle}`);
      await this.#read();
    }
    return this.text;
  }

  /** Reads until the stream ends. */
  async toEnd(): Promise<string> {
    while (!this.done) await this.#read();
    return this.text;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

Deno.test("sseResponse streams the producer's messages and ends when the signal aborts", async () => {
  const ctrl = new AbortController();
  let producerDone!: () => void;
  const produced = new Promise<void>((r) => (producerDone = r));
  const messages: SseMessage[] = [
    { event: "hello", id: "1", data: "first" },
    { data: "multi\nline" },
  ];
  const res = sseResponse({ signal: ctrl.signal }, async (send, signal) => {
    for (const m of messages) send(m);
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
    // Sending after the abort is dropped quietly.
    send({ data: "too late" });
    producerDone();
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("cache-control"), "no-cache");

  const body = new BodyReader(res);
  try {
    const expected = ": connected\n\n" + messages.map(formatSse).join("");
    assert.equal(await body.until("data: line\n\n"), expected);
    ctrl.abort();
    assert.equal(await body.toEnd(), expected);
    await produced;
  } finally {
    ctrl.abort();
    if (!body.done) await body.cancel();
  }
});

Deno.test("sseResponse sends keep-alive comments", async () => {
  const ctrl = new AbortController();
  const res = sseResponse(
    { signal: ctrl.signal, heartbeatMs: 10 },
    (_send, signal) =>
      new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => resolve(), { once: true })
      ),
  );
  const body = new BodyReader(res);
  try {
    assert.ok((await body.until(": keep-alive\n\n")).startsWith(": connected"));
    ctrl.abort();
    await body.toEnd();
    assert.ok(body.done);
  } finally {
    ctrl.abort();
    if (!body.done) await body.cancel();
  }
});

Deno.test("sseResponse aborts the producer when the client cancels the body", async () => {
  const ctrl = new AbortController();
  let producerSignal: AbortSignal | undefined;
  let producerDone!: () => void;
  const produced = new Promise<void>((r) => (producerDone = r));
  const res = sseResponse({ signal: ctrl.signal }, async (send, signal) => {
    producerSignal = signal;
    send({ data: "one" });
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
    producerDone();
  });
  const body = new BodyReader(res);
  try {
    await body.until("data: one\n\n");
    await body.cancel();
    await produced;
    assert.equal(producerSignal?.aborted, true);
    assert.equal(ctrl.signal.aborted, false);
  } finally {
    ctrl.abort();
  }
});

Deno.test("sseResponse ends at once when its signal is already aborted", async () => {
  const ctrl = new AbortController();
  ctrl.abort();
  let producerSawAbort: boolean | undefined;
  const res = sseResponse({ signal: ctrl.signal }, async (send, signal) => {
    producerSawAbort = signal.aborted;
    send({ data: "never sent" });
    if (!signal.aborted) {
      await new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => resolve(), { once: true })
      );
    }
  });
  const body = new BodyReader(res);
  try {
    assert.equal(await body.toEnd(), ": connected\n\n");
    assert.equal(producerSawAbort, true);
  } finally {
    if (!body.done) await body.cancel();
  }
});

Deno.test("sseResponse closes the stream when the producer fails", async () => {
  const ctrl = new AbortController();
  const res = sseResponse({ signal: ctrl.signal }, (send) => {
    send({ data: "before the failure" });
    return Promise.reject(new Error("producer failed"));
  });
  const body = new BodyReader(res);
  try {
    assert.equal(
      await body.toEnd(),
      ": connected\n\ndata: before the failure\n\n",
    );
  } finally {
    ctrl.abort();
    if (!body.done) await body.cancel();
  }
});

Deno.test("sseResponse: a client that reads nothing holds at most the default buffer, then the stream is dropped", async () => {
  const ctrl = new AbortController();
  let offered = 0;
  let taken = 0;
  let producerDone!: () => void;
  const produced = new Promise<void>((r) => (producerDone = r));
  const res = sseResponse({ signal: ctrl.signal }, async (send, signal) => {
    // 20 MiB for a client that is not reading yet.
    for (let i = 0; i < 20_000 && !signal.aborted; i++) {
      offered++;
      if (send({ event: "n", id: String(i), data: "x".repeat(1000) })) taken++;
    }
    await Promise.resolve();
    producerDone();
  });
  const body = new BodyReader(res);
  try {
    await produced;
    // It stopped at the buffer (256 KiB), and the producer was told.
    assert.ok(taken * 1000 <= 256 * 1024, `${taken} messages were queued`);
    assert.equal(offered, taken + 1);
    const text = await body.toEnd();
    // What waited was thrown away (": connected" too): only the last event is left.
    assert.ok(text.startsWith("event: dropped\ndata: "), text);
    assert.ok(!text.includes("id: 0\n"));
  } finally {
    ctrl.abort();
    if (!body.done) await body.cancel();
  }
});
