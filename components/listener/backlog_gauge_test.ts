import assert from "node:assert/strict";
import {
  type Admission,
  BacklogGauge,
  type Refusal,
  retryAfterSeconds,
} from "./backlog_gauge.ts";

/** A backlog counter that tests move by hand, counting reads. */
function counter(initial = 0) {
  const c = {
    value: initial,
    reads: 0,
    backlog: (_queue: string) => {
      c.reads++;
      return Promise.resolve(c.value);
    },
  };
  return c;
}

function admitted(a: Admission | Refusal): Admission {
  assert.ok("done" in a, `admitted, not ${JSON.stringify(a)}`);
  return a;
}

function refused(a: Admission | Refusal): Refusal {
  assert.ok(!("done" in a), "refused");
  return a;
}

Deno.test("BacklogGauge: admits up to the limit on one read, counting its own appends", async () => {
  const src = counter();
  let now = 0;
  const g = new BacklogGauge(src, { limit: 5, now: () => now });
  const a = admitted(await g.admit("q", 3));
  a.done(true);
  src.value = 3;
  admitted(await g.admit("q", 2)).done(true);
  src.value = 5;
  assert.equal(src.reads, 1, "the second admission reused the read");
  // Over the limit: refused on a fresh read, never on the cached one.
  assert.deepEqual(refused(await g.admit("q", 1)), { backlog: 5, limit: 5 });
  assert.equal(src.reads, 2);
  // The consumer drained the queue: the next request reads again and passes.
  src.value = 2;
  now += 10;
  admitted(await g.admit("q", 3)).done(true);
  assert.equal(src.reads, 3);
});

Deno.test("BacklogGauge: concurrent admissions see each other's reservations", async () => {
  const src = counter();
  const g = new BacklogGauge(src, { limit: 5, now: () => 0 });
  const [a, b] = await Promise.all([g.admit("q", 3), g.admit("q", 3)]);
  const first = admitted(a);
  assert.deepEqual(refused(b), { backlog: 3, limit: 5 });
  // A write that failed gives its room back.
  first.done(false);
  first.done(true); // only the first call counts
  admitted(await g.admit("q", 5));
});

Deno.test("BacklogGauge: a read is reused for at most maxAgeMs (capped at 100 ms)", async () => {
  const src = counter();
  let now = 0;
  const g = new BacklogGauge(src, {
    limit: 100,
    maxAgeMs: 5_000,
    now: () => now,
  });
  admitted(await g.admit("q", 1)).done(true);
  now = 100;
  admitted(await g.admit("q", 1)).done(true);
  assert.equal(src.reads, 1);
  now = 101;
  admitted(await g.admit("q", 1)).done(true);
  assert.equal(src.reads, 2);
  // Queues are counted apart.
  admitted(await g.admit("other", 1)).done(true);
  assert.equal(src.reads, 3);
});

Deno.test("BacklogGauge: appends by others within the read's age are the only ones missed", async () => {
  const src = counter();
  const g = new BacklogGauge(src, { limit: 10, now: () => 0 });
  admitted(await g.admit("q", 4)).done(true);
  // Another process appends 6 after the read: this gauge cannot know yet...
  src.value = 10;
  admitted(await g.admit("q", 6)).done(true);
  // ...but its own 10 reach the limit, so the next one reads and refuses.
  assert.deepEqual(refused(await g.admit("q", 1)), { backlog: 10, limit: 10 });
});

Deno.test("retryAfterSeconds: 1 s per thirtieth of the limit over it, 1 to 30 s", () => {
  assert.equal(retryAfterSeconds(100_000, 1, 100_000), 1);
  assert.equal(retryAfterSeconds(100_000, 1000, 100_000), 1);
  assert.equal(retryAfterSeconds(110_000, 0, 100_000), 3);
  assert.equal(retryAfterSeconds(150_000, 0, 100_000), 15);
  assert.equal(retryAfterSeconds(500_000, 1, 100_000), 30);
  assert.equal(retryAfterSeconds(3, 1, 3), 10);
  assert.equal(retryAfterSeconds(0, 1, 0), 30);
});
