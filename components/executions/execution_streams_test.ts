/**
 * The execution streams through the platform's routes (`app.request`, a
 * real KV): their limits per tenant and in all, a stream that falls behind
 * and resumes with Last-Event-ID. What depends on TCP is in
 * tests/execution_streams_test.ts.
 */
import assert from "node:assert/strict";
import { monotonicIdFactory } from "@jobico/goico";
import { type TestPlatform, testPlatform } from "../server/_test_platform.ts";
import type { PlatformOptions } from "../platform.ts";
import { recordExecutions, SseReader } from "./_test_executions.ts";

const STREAM = (tenant: string) =>
  `/api/v1/tenants/${tenant}/executions/stream`;

/** A platform and the streams opened on it, all cancelled at the end. */
async function withStreams(
  options: PlatformOptions["streams"],
  fn: (
    p: TestPlatform,
    open: (
      tenant: string,
      headers?: HeadersInit,
      query?: string,
    ) => Promise<Response>,
  ) => Promise<void>,
): Promise<void> {
  const p = await testPlatform({ components: ["recorder"], streams: options });
  const bodies: Response[] = [];
  // A stream is for a tenant that exists: each is created before its first.
  const created = new Map<string, Promise<unknown>>();
  const open = async (tenant: string, headers?: HeadersInit, query = "") => {
    if (!created.has(tenant)) created.set(tenant, p.tenants.create(tenant));
    await created.get(tenant);
    const res = await p.app.request(STREAM(tenant) + query, { headers });
    bodies.push(res);
    return res;
  };
  try {
    await fn(p, open);
  } finally {
    for (const r of bodies) await r.body?.cancel().catch(() => {});
    await p.close();
  }
}

/** Waits for a condition, failing after 10 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function assertRefused(
  res: Response,
  limit: "maxStreamsPerTenant" | "maxStreams",
  max: number,
  retryAfter = "5",
): Promise<void> {
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), retryAfter);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.limit, limit);
  assert.equal(body.max, max);
  assert.match(
    body.detail,
    limit === "maxStreams"
      ? new RegExp(`the most it serves at once \\(${max}\\)`)
      : new RegExp(`the most one tenant may have \\(${max}\\)`),
  );
}

Deno.test("execution streams: by default a tenant may hold 50; all asked at once, the rest get 429; another tenant still gets its own; closing one frees its slot", async () => {
  await withStreams(undefined, async (p, open) => {
    // The attack: 60 streams asked at the same moment.
    const all = await Promise.all(
      Array.from({ length: 60 }, () => open("greedy")),
    );
    const ok = all.filter((r) => r.status === 200);
    const refused = all.filter((r) => r.status !== 200);
    assert.equal(ok.length, 50);
    assert.equal(refused.length, 10);
    for (const r of refused) await assertRefused(r, "maxStreamsPerTenant", 50);
    assert.equal(p.streams.stats().open, 50);
    assert.equal(p.streams.stats().refused, 10);

    const other = await open("other");
    assert.equal(other.status, 200);
    assert.equal(other.headers.get("content-type"), "text/event-stream");

    await ok[0].body!.cancel();
    await until("the slot is given back", () => p.streams.stats().open === 50);
    assert.equal((await open("greedy")).status, 200);
    await assertRefused(await open("greedy"), "maxStreamsPerTenant", 50);
  });
});

Deno.test("execution streams: by default the server holds 500 in all; past them every tenant gets 429", async () => {
  await withStreams(undefined, async (p, open) => {
    for (let t = 0; t < 10; t++) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => open(`tenant${t}`)),
      );
      assert.ok(batch.every((r) => r.status === 200));
    }
    assert.equal(p.streams.stats().open, 500);
    await assertRefused(await open("latecomer"), "maxStreams", 500);
    await assertRefused(await open("tenant0"), "maxStreamsPerTenant", 50);
  });
});

Deno.test("execution streams: explicit limits per tenant and in all, and a slot freed by a client that leaves", async () => {
  await withStreams({
    maxStreams: 3,
    maxStreamsPerTenant: 2,
    retryAfterSeconds: 9,
  }, async (p, open) => {
    const a1 = await open("a");
    assert.equal((await open("a")).status, 200);
    assert.equal(a1.status, 200);
    await assertRefused(await open("a"), "maxStreamsPerTenant", 2, "9");
    assert.equal((await open("b")).status, 200);
    await assertRefused(await open("c"), "maxStreams", 3, "9");
    await a1.body!.cancel();
    await until("the slot is given back", () => p.streams.stats().open === 2);
    assert.equal((await open("c")).status, 200);
    assert.deepEqual(p.streams.stats().ended.gone, 1);
    // What /metrics shows of it.
    const metrics = await (await p.app.request("/metrics")).text();
    for (
      const line of [
        "jobico_execution_streams_open 3",
        "jobico_execution_streams_refused_total 2",
        'jobico_execution_streams_ended_total{how="gone"} 1',
      ]
    ) assert.ok(metrics.split("\n").includes(line), `${line} in ${metrics}`);
  });
});

Deno.test("execution streams: a malformed Last-Event-ID is a 400 naming it, and takes no slot", async () => {
  await withStreams({ maxStreamsPerTenant: 1 }, async (p, open) => {
    const res = await open("a", { "last-event-id": "not-an-id" });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(
      body.detail,
      'Invalid Last-Event-ID "not-an-id": send the id of the last execution event received',
    );
    assert.equal(p.streams.stats().open, 0);
  });
});

/**
 * A client reads a few executions, stops reading while many more are
 * recorded, is dropped, and resumes with the last id it got: it must get
 * every execution after it, in order, once, also those recorded while it
 * catches up.
 */
async function fallBehindAndResume(
  options: PlatformOptions["streams"],
  bufferBytes: number,
): Promise<void> {
  await withStreams(options, async (p, open) => {
    const res = await open("t");
    assert.equal(res.status, 200);
    const stream = new SseReader(res.body!.getReader());
    await stream.until(() => stream.text.includes(": connected"));
    await until("the stream is live", () => p.streams.stats().streams[0].live);
    const first = await recordExecutions(p.kv, p.executions, "t", 5);
    await stream.executions(5);
    assert.deepEqual(stream.ids, first.map((e) => e.id));

    // The client stops reading; a 1 KiB execution at a time piles up.
    const count = Math.ceil((bufferBytes * 1.5) / 1024);
    const missed = await recordExecutions(p.kv, p.executions, "t", count, {
      resultChars: 1024,
    });
    await until(
      "the stream is dropped",
      () => p.streams.stats().streams[0].dropped,
    );
    const peak = Math.max(
      ...p.streams.stats().streams.map((s) => s.peakBufferedBytes),
    );
    assert.ok(peak <= bufferBytes, `${peak} bytes waited`);

    // Reading again, it gets the last event and the end of the stream.
    await stream.toEnd();
    assert.equal(stream.ended, true);
    assert.deepEqual(stream.ids, first.map((e) => e.id));
    const dropped = stream.events.at(-1)!;
    assert.equal(dropped.event, "dropped");
    const notice = JSON.parse(dropped.data);
    assert.equal(notice.lastEventId, first[4].id);
    assert.match(notice.reason, /^The client fell behind/);
    await until("the slot is given back", () => p.streams.stats().open === 0);
    assert.equal(p.streams.stats().ended.dropped, 1);

    // It resumes; more executions are recorded while it catches up.
    const again = await open("t", { "last-event-id": stream.ids.at(-1)! });
    assert.equal(again.status, 200);
    const more = recordExecutions(p.kv, p.executions, "t", 50, { batch: 5 });
    const want = [...missed, ...await more].map((e) => e.id);
    const resumed = new SseReader(again.body!.getReader());
    await resumed.executions(want.length);
    assert.deepEqual(resumed.ids, want);
  });
}

Deno.test("execution streams: a client that falls behind the buffer (16 KiB) is dropped, then resumes with Last-Event-ID and gets everything it missed, in order", async () => {
  await fallBehindAndResume({ bufferBytes: 16 * 1024 }, 16 * 1024);
});

Deno.test("execution streams: the same with the default buffer (256 KiB)", async () => {
  await fallBehindAndResume(undefined, 256 * 1024);
});

Deno.test("execution streams: a resumed stream applies its filter to what it missed and to what follows", async () => {
  await withStreams(undefined, async (p, open) => {
    const before = await recordExecutions(p.kv, p.executions, "t", 1);
    const mixed = [
      ...await recordExecutions(p.kv, p.executions, "t", 3, { event: "a" }),
      ...await recordExecutions(p.kv, p.executions, "t", 3, { event: "b" }),
    ];
    const res = await open("t", { "last-event-id": before[0].id }, "?event=b");
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    {
      const live = await recordExecutions(p.kv, p.executions, "t", 2, {
        event: "b",
      });
      await recordExecutions(p.kv, p.executions, "t", 2, { event: "a" });
      const want = [...mixed.slice(3), ...live].map((e) => e.id);
      const stream = new SseReader(reader);
      await stream.executions(want.length);
      assert.deepEqual(stream.ids, want);
      reader.releaseLock();
    }
  });
});

/**
 * Two recording processes, one whose clock runs a minute ahead: an
 * execution the other commits after one of the first's has been streamed
 * has the smaller id. It must still reach the stream, once.
 */
const aheadId = monotonicIdFactory(() => Date.now() + 60_000);
const onTimeId = monotonicIdFactory();

Deno.test("execution streams: an execution committed after one with a later id was streamed reaches the live stream, once", async () => {
  await withStreams(undefined, async (p, open) => {
    const res = await open("t");
    const stream = new SseReader(res.body!.getReader());
    await until("the stream is live", () => p.streams.stats().streams[0]?.live);
    const [ahead] = await recordExecutions(p.kv, p.executions, "t", 1, {
      newId: aheadId,
    });
    await stream.executions(1);
    const late = await recordExecutions(p.kv, p.executions, "t", 3, {
      newId: onTimeId,
      batch: 1,
    });
    assert.ok(late.every((e) => e.id < ahead.id));
    // The last one comes from the process ahead: once it has come, the
    // stream has read past everything before it.
    const [last] = await recordExecutions(p.kv, p.executions, "t", 1, {
      newId: aheadId,
    });
    await stream.until(() => stream.ids.includes(last.id));
    assert.deepEqual(stream.ids, [ahead, ...late, last].map((e) => e.id));
  });
});

Deno.test("execution streams: the same across a resume: Last-Event-ID of the later id brings the execution committed after it with a smaller id", async () => {
  await withStreams(undefined, async (p, open) => {
    const first = await open("t");
    const stream = new SseReader(first.body!.getReader());
    await until("the stream is live", () => p.streams.stats().streams[0]?.live);
    const [ahead] = await recordExecutions(p.kv, p.executions, "t", 1, {
      newId: aheadId,
    });
    await stream.executions(1);
    await stream.reader.cancel();
    await until("the stream ended", () => p.streams.stats().open === 0);
    // Committed while the client is away, with a smaller id.
    const late = await recordExecutions(p.kv, p.executions, "t", 2, {
      newId: onTimeId,
      batch: 1,
    });
    assert.ok(late.every((e) => e.id < ahead.id));
    const again = await open("t", { "last-event-id": ahead.id });
    assert.equal(again.status, 200);
    const resumed = new SseReader(again.body!.getReader());
    await resumed.executions(2);
    // And once live, another late one, then a marker from ahead.
    await until("the stream is live", () => p.streams.stats().streams[0]?.live);
    const later = await recordExecutions(p.kv, p.executions, "t", 1, {
      newId: onTimeId,
    });
    const [last] = await recordExecutions(p.kv, p.executions, "t", 1, {
      newId: aheadId,
    });
    await resumed.until(() => resumed.ids.includes(last.id));
    assert.deepEqual(
      resumed.ids,
      [...late, ...later, last].map((e) => e.id),
    );
  });
});
