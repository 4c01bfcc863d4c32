/**
 * Execution streams on a real server and real sockets: a client that never
 * reads (the server's writes back up through TCP), clients that vanish with
 * their process, and many streams of one tenant sharing one reader of the
 * store.
 */
import assert from "node:assert/strict";
import {
  executionIds,
  recordExecutions,
  SseReader,
} from "../components/executions/_test_executions.ts";
import type { PlatformOptions } from "../components/platform.ts";
import { JobicoClient } from "../cli/client.ts";
import { type Harness, startHarness } from "./_harness.ts";
import { KvReadLog } from "./_kv_audit.ts";
import {
  openUnread,
  readToClose,
  streamsInAnotherProcess,
} from "./_sse_socket.ts";

const PATH = "/api/v1/tenants/t/executions/stream";

/** The platform with tenant "t", whose executions the streams follow. */
async function harnessOfT(
  options: Parameters<typeof startHarness>[0],
): Promise<Harness> {
  const h = await startHarness(options);
  await h.platform.tenants.create("t");
  return h;
}

/** Waits for a condition, failing after `ms`. */
async function until(
  what: string,
  cond: () => boolean,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function streamsOf(h: Harness) {
  return h.platform.streams.stats();
}

/**
 * A client sends its request and reads nothing while 16 KiB executions are
 * recorded. The bytes waiting for it must stay within its buffer, it must
 * be dropped and, since it does not even take the last event, cut; then
 * what reached its socket is read, and a new stream resumed with the last
 * id in it must bring every execution after it, in order.
 */
async function neverReads(
  streams: PlatformOptions["streams"],
  bufferBytes: number,
): Promise<void> {
  const h = await harnessOfT({ components: ["recorder"], streams });
  const { kv, platform } = h;
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await openUnread(h.url, PATH, {
      authorization: `Bearer ${h.adminToken}`,
    });
    await until("the stream is live", () => streamsOf(h).streams[0]?.live);
    const recorded = [];
    let peak = 0;
    // Up to 200 MiB: on a server without a bound, it all piles up.
    const over = () => {
      const s = streamsOf(h);
      return s.streams[0]?.dropped || s.ended.dropped + s.ended.cut > 0;
    };
    while (!over()) {
      assert.ok(recorded.length < 12_800, "200 MiB went by and no drop came");
      const batch = await recordExecutions(kv, platform.executions, "t", 16, {
        resultChars: 16 * 1024,
      });
      recorded.push(...batch);
      // The stream has been offered the batch (or dropped).
      await until(
        "the batch is offered",
        () => over() || streamsOf(h).streams[0]?.position === batch[15].id,
      );
      const s = streamsOf(h).streams[0];
      if (s) peak = Math.max(peak, s.bufferedBytes, s.peakBufferedBytes);
    }
    assert.ok(peak <= bufferBytes, `${peak} bytes waited for the client`);
    // It takes nothing, not even the last event: its connection is cut.
    await until("the connection is cut", () => streamsOf(h).ended.cut === 1);
    assert.equal(streamsOf(h).open, 0);

    // What reached its socket is whole events, in order, then nothing.
    const { status, body } = await readToClose(conn);
    conn = undefined;
    assert.equal(status, 200);
    const got = executionIds(body);
    assert.ok(got.length > 0);
    const all = recorded.map((e) => e.id);
    assert.deepEqual(got, all.slice(0, got.length));
    assert.ok(got.length < all.length);

    // It resumes; more come while it catches up.
    const res = await h.api(PATH, {
      headers: { "last-event-id": got.at(-1)! },
    });
    assert.equal(res.status, 200);
    const resumed = new SseReader(res.body!.getReader());
    const more = await recordExecutions(kv, platform.executions, "t", 20, {
      batch: 4,
    });
    const want = [...all.slice(got.length), ...more.map((e) => e.id)];
    await resumed.executions(want.length);
    await resumed.reader.cancel();
    assert.deepEqual(resumed.ids, want);
    assert.ok(!resumed.events.some((m) => m.event === "dropped"));
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
    await h.close();
  }
}

Deno.test("a client that never reads holds at most its buffer (default 256 KiB), is dropped and cut, and resumes with Last-Event-ID losing nothing", async () => {
  await neverReads(undefined, 256 * 1024);
});

Deno.test("the same with a 32 KiB buffer and a short grace", async () => {
  await neverReads({ bufferBytes: 32 * 1024, dropGraceMs: 200 }, 32 * 1024);
});

/** Clients in a process that is killed: their slots must come back. */
async function vanish(
  streams: PlatformOptions["streams"],
  perTenant: number,
): Promise<void> {
  const h = await harnessOfT({ components: ["recorder"], streams });
  try {
    const client = await streamsInAnotherProcess(
      h.url + PATH,
      h.adminToken,
      perTenant,
    );
    assert.equal(streamsOf(h).open, perTenant);
    const refused = await h.api(PATH);
    assert.equal(refused.status, 429);
    assert.equal((await refused.json()).limit, "maxStreamsPerTenant");
    await client.kill();
    await until("the slots come back", () => streamsOf(h).open === 0);
    assert.equal(streamsOf(h).ended.gone, perTenant);
    const again = await h.api(PATH);
    assert.equal(again.status, 200);
    await again.body!.cancel();
  } finally {
    await h.close();
  }
}

Deno.test("streams of a client whose process is killed give their slots back (default: 50 per tenant)", async () => {
  await vanish(undefined, 50);
});

Deno.test("the same with 1 stream per tenant", async () => {
  await vanish({ maxStreamsPerTenant: 1 }, 1);
});

Deno.test("a tenant's streams share one reader: 30 streams cost the store one read per change, not 30", async () => {
  const reads = new KvReadLog();
  const h = await harnessOfT({
    components: ["recorder"],
    wrapKv: (kv) => reads.wrap(kv),
  });
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      const res = await h.api(PATH);
      assert.equal(res.status, 200);
      readers.push(res.body!.getReader());
    }
    await until(
      "the streams are live",
      () => streamsOf(h).streams.filter((s) => s.live).length === 30,
    );
    reads.start();
    const recorded = await recordExecutions(
      h.kv,
      h.platform.executions,
      "t",
      10,
      { batch: 10 },
    );
    const want = recorded.map((e) => e.id);
    for (const r of readers) {
      const stream = new SseReader(r);
      await stream.executions(want.length);
      assert.deepEqual(stream.ids, want);
    }
    const log = reads.stop();
    const executionReads = log.filter((r) =>
      ["exec", "execnew", "execlog", "execcount"].includes(
        r.keys[0][0] as string,
      ) && r.keys[0][1] === "t"
    );
    // One read of the log for the change: the tenant's counter, its inbox,
    // its log and the records, 4 reads (a poll may add one like it); and
    // the recorder's first move for the tenant reads its inbox once (2).
    // 30 readers would have made 120.
    assert.ok(
      executionReads.length <= 10,
      `${executionReads.length} reads of the executions: ${
        JSON.stringify(executionReads)
      }`,
    );
  } finally {
    for (const r of readers) await r.cancel().catch(() => {});
    await h.close();
  }
});

/**
 * jobico's client follows a stream while its consumer pauses and 16 KiB
 * executions are recorded until the server drops the stream. With `cut`,
 * the consumer stays away until the server has cut the connection too.
 */
async function clientResumes(cut: boolean): Promise<void> {
  const h = await harnessOfT({
    components: ["recorder"],
    // Dropped: a grace long enough for the consumer to come back in time.
    streams: { bufferBytes: 16 * 1024, dropGraceMs: cut ? 300 : 60_000 },
  });
  const ctrl = new AbortController();
  try {
    const client = new JobicoClient({ url: h.url, token: h.adminToken });
    const stream = await client.streamExecutions("t", {
      signal: ctrl.signal,
    });
    await until("the stream is live", () => streamsOf(h).streams[0]?.live);
    const first = await recordExecutions(h.kv, h.platform.executions, "t", 1);
    assert.equal((await stream.next()).value?.id, first[0].id);
    // The consumer pauses while executions are recorded.
    const recorded = [];
    const over = () => {
      const s = streamsOf(h);
      return s.streams[0]?.dropped || s.ended.dropped + s.ended.cut > 0;
    };
    while (!over()) {
      assert.ok(recorded.length < 4000, "no drop came");
      const batch = await recordExecutions(
        h.kv,
        h.platform.executions,
        "t",
        16,
        { resultChars: 16 * 1024 },
      );
      recorded.push(...batch);
      await until(
        "the batch is offered",
        () => over() || streamsOf(h).streams[0]?.position === batch[15].id,
      );
    }
    if (cut) {
      await until("the connection is cut", () => streamsOf(h).ended.cut === 1);
    }
    const more = await recordExecutions(h.kv, h.platform.executions, "t", 5);
    const want = [...recorded, ...more].map((e) => e.id);
    const got: string[] = [];
    for await (const e of stream) {
      got.push(e.id);
      if (got.length === want.length) break;
    }
    assert.deepEqual(got, want);
    const ended = streamsOf(h).ended;
    assert.equal(cut ? ended.cut : ended.dropped, 1);
  } finally {
    ctrl.abort();
    await h.close();
  }
}

Deno.test("jobico's client resumes a stream the server dropped: a consumer that pauses still gets every execution, in order", async () => {
  await clientResumes(false);
});

Deno.test("jobico's client resumes a stream the server cut: the same when the consumer stays away past the grace period", async () => {
  await clientResumes(true);
});
