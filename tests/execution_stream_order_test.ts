/**
 * Two platforms record the executions of one tenant into one store (two
 * connections to it: two handles on one SQLite file, two PgKv on one
 * database), as two executor processes do, each with its own clock: one
 * runs three seconds behind the other, so the ids they make interleave out
 * of commit order. A live stream on each platform's real server (port 0)
 * must bring every execution exactly once, and a stream resumed with the
 * Last-Event-ID of an execution in the middle everything after it.
 */
import assert from "node:assert/strict";
import { monotonicIdFactory, openPgKv } from "@jobico/goico";
import { pgTestDatabase } from "@jobico/goico/testing";
import {
  recordExecutions,
  SseReader,
} from "../components/executions/_test_executions.ts";
import { type Platform, startPlatform } from "../components/platform.ts";
import { TEST_ADMIN_TOKEN } from "../components/server/_test_platform.ts";
import { storeTest as test, type TestStore } from "./_harness.ts";

const PATH = "/api/v1/tenants/t/executions/stream";

/** Two handles on one new store, and how to close them and remove it. */
async function twoHandles(
  store: TestStore,
): Promise<{ kvs: [Deno.Kv, Deno.Kv]; close(): Promise<void> }> {
  if (store === "postgres") {
    const url = await pgTestDatabase();
    const pgs = [await openPgKv(url), await openPgKv(url)] as const;
    return {
      kvs: [pgs[0], pgs[1]],
      close: async () => {
        for (const kv of pgs) await kv.closed();
      },
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "jobico-stream-order-" });
  const path = `${dir}/kv.sqlite3`;
  const kvs: [Deno.Kv, Deno.Kv] = [
    await Deno.openKv(path),
    await Deno.openKv(path),
  ];
  return {
    kvs,
    close: async () => {
      for (const kv of kvs) kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function open(p: Platform, lastEventId?: string): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
  };
  if (lastEventId) headers["last-event-id"] = lastEventId;
  return fetch(p.url + PATH, { headers });
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Which of `want` a stream lacks and which it had twice. */
function compare(got: string[], want: string[]) {
  const seen = new Set(got);
  return {
    missing: want.filter((id) => !seen.has(id)).length,
    twice: got.length - seen.size,
    foreign: got.filter((id) => !want.includes(id)).length,
  };
}

test("two platforms record one tenant's executions with clocks 3 s apart: each live stream gets every one exactly once, and a resume from the middle everything after it", async (store) => {
  const { kvs, close } = await twoHandles(store);
  const platforms: Platform[] = [];
  const readers: SseReader[] = [];
  try {
    for (const kv of kvs) {
      platforms.push(
        await startPlatform({
          kv,
          port: 0,
          hostname: "127.0.0.1",
          adminToken: TEST_ADMIN_TOKEN,
          components: ["recorder"],
        }),
      );
    }
    await platforms[0].tenants.create("t");
    for (const p of platforms) {
      const res = await open(p);
      assert.equal(res.status, 200);
      readers.push(new SseReader(res.body!.getReader()));
    }
    await until(
      "both streams are live",
      () => platforms.every((p) => p.streams.stats().streams[0]?.live),
    );
    const behind = monotonicIdFactory(() => Date.now() - 3_000);
    const onTime = monotonicIdFactory();
    const write = (i: 0 | 1, newId: () => string) =>
      recordExecutions(kvs[i], platforms[i].executions, "t", 300, {
        batch: 3,
        newId,
      });
    const [a, b] = await Promise.all([write(0, behind), write(1, onTime)]);
    // A last one from the clock ahead: once a stream has it, it has read
    // past everything committed before it.
    const [last] = await recordExecutions(
      kvs[1],
      platforms[1].executions,
      "t",
      1,
      { newId: onTime },
    );
    const want = [...a, ...b, last].map((e) => e.id);
    for (const r of readers) {
      await r.until(() => r.ids.includes(last.id), 30_000);
      assert.deepEqual(compare(r.ids, want), {
        missing: 0,
        twice: 0,
        foreign: 0,
      });
      assert.equal(r.ids.at(-1), last.id);
    }
    // Both streams saw the same order (the order of the commits).
    assert.deepEqual(readers[0].ids, readers[1].ids);

    // Resumed from the middle on the other platform: what came after it.
    const middle = readers[0].ids[300];
    const res = await open(platforms[1], middle);
    assert.equal(res.status, 200);
    const resumed = new SseReader(res.body!.getReader());
    readers.push(resumed);
    await resumed.until(() => resumed.ids.includes(last.id), 30_000);
    assert.deepEqual(resumed.ids, readers[0].ids.slice(301));
  } finally {
    for (const r of readers) await r.reader.cancel().catch(() => {});
    for (const p of platforms) await p.close();
    await close();
  }
});
