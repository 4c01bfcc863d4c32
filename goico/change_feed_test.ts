import assert from "node:assert/strict";
import { ChangeFeed } from "./change_feed.ts";

/**
 * Reads a feed's `changes()` one yield at a time; a yield that does not come
 * within the timeout fails the test instead of hanging it.
 */
class FeedReader {
  readonly #it: AsyncGenerator<bigint>;
  readonly #ctrl = new AbortController();
  #pending?: Promise<IteratorResult<bigint>>;
  /** What the last yield said: the count of changes the reader saw. */
  position?: bigint;

  constructor(feed: ChangeFeed) {
    this.#it = feed.changes(this.#ctrl.signal);
  }

  /** Waits for the next yield; returns false when the iteration ended. */
  async next(timeoutMs = 5000): Promise<boolean> {
    this.#pending ??= this.#it.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const r = await Promise.race([this.#pending, timeout]);
      if (r === "timeout") {
        throw new Error(`The change feed did not yield within ${timeoutMs} ms`);
      }
      this.#pending = undefined;
      if (!r.done) this.position = r.value;
      return !r.done;
    } finally {
      clearTimeout(timer);
    }
  }

  abort(): void {
    this.#ctrl.abort();
  }

  /** Aborts and waits until the generator has cleaned up. */
  async close(): Promise<void> {
    this.#ctrl.abort();
    if (this.#pending) await this.#pending;
    this.#pending = undefined;
    await this.#it.return(undefined);
  }
}

async function counter(kv: Deno.Kv, key: Deno.KvKey): Promise<bigint> {
  const v = (await kv.get<Deno.KvU64>(key)).value;
  return v?.value ?? 0n;
}

Deno.test("ChangeFeed: yields at start, after touch() and after a notify(op) commit", async () => {
  const kv = await Deno.openKv(":memory:");
  // pollMs 0: only kv.watch can wake the reader.
  const feed = new ChangeFeed(kv, ["signal"], { pollMs: 0 });
  const reader = new FeedReader(feed);
  try {
    assert.equal(await reader.next(), true, "yields once at start");

    await feed.touch();
    assert.equal(await reader.next(), true, "yields after touch()");
    assert.equal(await counter(kv, ["signal"]), 1n);

    const op = kv.atomic().set(["data"], "written");
    const res = await feed.notify(op).commit();
    assert.ok(res.ok);
    assert.equal(await reader.next(), true, "yields after notify(op)");
    assert.equal((await kv.get(["data"])).value, "written");
    assert.equal(await counter(kv, ["signal"]), 2n);
  } finally {
    await reader.close();
    kv.close();
  }
});

Deno.test("ChangeFeed: a change made while the reader is busy is not lost", async () => {
  const kv = await Deno.openKv(":memory:");
  const feed = new ChangeFeed(kv, ["signal"], { pollMs: 0 });
  const reader = new FeedReader(feed);
  try {
    assert.equal(await reader.next(), true);
    // The generator is suspended at its yield while these commit.
    await feed.touch();
    await feed.touch();
    assert.equal(await reader.next(), true);
    const seen = await counter(kv, ["signal"]);
    // Changes may be coalesced: whatever is seen after the yield is current.
    assert.equal(seen, 2n);
  } finally {
    await reader.close();
    kv.close();
  }
});

Deno.test("ChangeFeed: with polling and watching both active, no change is lost", async () => {
  const kv = await Deno.openKv(":memory:");
  const feed = new ChangeFeed(kv, ["signal"], { pollMs: 5 });
  const reader = new FeedReader(feed);
  const N = 50n;
  try {
    assert.equal(await reader.next(), true);
    const writer = (async () => {
      for (let i = 0n; i < N; i++) {
        await feed.notify(kv.atomic().set(["item", i], i)).commit();
        if (i % 7n === 0n) await new Promise((r) => setTimeout(r, 1));
      }
    })();
    // The consumer re-reads after each yield, like real readers do; it must
    // eventually see the last change, whatever got coalesced.
    let seen = await counter(kv, ["signal"]);
    while (seen < N) {
      assert.equal(await reader.next(), true);
      seen = await counter(kv, ["signal"]);
    }
    await writer;
    assert.equal(seen, N);
    const stored = await Array.fromAsync(kv.list({ prefix: ["item"] }));
    assert.equal(stored.length, Number(N));

    // And a change after the writer stopped still wakes the reader.
    await feed.touch();
    assert.equal(await reader.next(), true);
    assert.equal(await counter(kv, ["signal"]), N + 1n);
  } finally {
    await reader.close();
    kv.close();
  }
});

Deno.test("ChangeFeed: polling wakes a reader for a change made by another process", async () => {
  // kv.watch does not see commits of other processes on the same SQLite
  // file; the poll of the key must.
  const dir = await Deno.makeTempDir();
  const path = `${dir}/kv.sqlite3`;
  const kv = await Deno.openKv(path);
  const reader = new FeedReader(new ChangeFeed(kv, ["signal"], { pollMs: 20 }));
  try {
    assert.equal(await reader.next(), true);
    const script = `
      const kv = await Deno.openKv(${JSON.stringify(path)});
      await kv.atomic().sum(["signal"], 1n).commit();
      kv.close();`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--unstable-kv", script],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(await reader.next(), true);
    assert.equal(await counter(kv, ["signal"]), 1n);
  } finally {
    await reader.close();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ChangeFeed: aborting the signal ends a waiting iteration", async () => {
  const kv = await Deno.openKv(":memory:");
  const feed = new ChangeFeed(kv, ["signal"], { pollMs: 10 });
  const reader = new FeedReader(feed);
  try {
    assert.equal(await reader.next(), true);
    // next() now waits for a change; the abort must end it.
    const ended = reader.next();
    reader.abort();
    assert.equal(await ended, false);
    // Ended for good: a later change is not delivered.
    await feed.touch();
    assert.equal(await reader.next(), false);
  } finally {
    await reader.close();
    kv.close();
  }
});

Deno.test("ChangeFeed: for-await stops when the signal aborts", async () => {
  const kv = await Deno.openKv(":memory:");
  const feed = new ChangeFeed(kv, ["signal"]);
  const ctrl = new AbortController();
  try {
    let yields = 0;
    for await (const _ of feed.changes(ctrl.signal)) {
      yields++;
      if (yields === 1) await feed.touch();
      else ctrl.abort();
    }
    assert.equal(yields, 2);
  } finally {
    ctrl.abort();
    kv.close();
  }
});

Deno.test("ChangeFeed: an already aborted signal yields nothing", async () => {
  const kv = await Deno.openKv(":memory:");
  const ctrl = new AbortController();
  ctrl.abort();
  try {
    const seen = await Array.fromAsync(
      new ChangeFeed(kv, ["signal"]).changes(ctrl.signal),
    );
    assert.deepEqual(seen, []);
  } finally {
    kv.close();
  }
});

Deno.test("ChangeFeed: no yield after the signal aborted, even mid-read", async () => {
  const kv = await Deno.openKv(":memory:");
  const ctrl = new AbortController();
  const it = new ChangeFeed(kv, ["signal"]).changes(ctrl.signal);
  try {
    // The first next() starts reading the key; the abort lands during the read.
    const first = it.next();
    ctrl.abort();
    assert.deepEqual(await first, { value: undefined, done: true });
  } finally {
    ctrl.abort();
    await it.return(undefined);
    kv.close();
  }
});

Deno.test("ChangeFeed: each yield is the count of changes read, position() the latest", async () => {
  const kv = await Deno.openKv(":memory:");
  const feed = new ChangeFeed(kv, ["signal"], { pollMs: 0 });
  const reader = new FeedReader(feed);
  try {
    assert.equal(await feed.position(), 0n);
    assert.equal(await reader.next(), true);
    assert.equal(reader.position, 0n);
    await feed.touch();
    await feed.notify(kv.atomic()).commit();
    assert.equal(await feed.position(), 2n);
    // Coalesced or not, the reader ends up having seen both.
    while (reader.position! < 2n) assert.equal(await reader.next(), true);
    assert.equal(reader.position, 2n);
  } finally {
    await reader.close();
    kv.close();
  }
});
