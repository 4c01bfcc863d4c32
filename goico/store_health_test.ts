import assert from "node:assert/strict";
import { StoreHealth } from "./store_health.ts";

Deno.test("StoreHealth: ok after a test write, which it repeats at most once per probeEveryMs", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 1000;
    const health = new StoreHealth(kv, { probeEveryMs: 1000, now: () => now });
    assert.equal(await health.check(), "ok");
    const first = await kv.get(["health", "probe"]);
    assert.equal(first.value, 1000);
    now += 500;
    assert.equal(await health.check(), "ok");
    assert.equal(
      (await kv.get(["health", "probe"])).versionstamp,
      first.versionstamp,
    );
    now += 600;
    assert.equal(await health.check(), "ok");
    assert.equal((await kv.get(["health", "probe"])).value, 2100);
  } finally {
    kv.close();
  }
});

Deno.test("StoreHealth: a store failure seen elsewhere makes it failing for failingForMs, then it recovers by itself", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 0;
    const logs: Record<string, unknown>[] = [];
    const health = new StoreHealth(kv, {
      failingForMs: 5000,
      now: () => now,
      logger: {
        debug() {},
        info() {},
        warn() {},
        error: (msg: string, fields?: Record<string, unknown>) =>
          logs.push({ msg, ...fields }),
      },
    });
    assert.equal(health.observe(new TypeError("x is undefined")), null);
    assert.equal(health.failing, false);
    const failure = health.observe(new TypeError("database or disk is full"));
    assert.equal(failure?.reason, "full");
    // Logged once, not once per failure.
    health.observe(new TypeError("database or disk is full"));
    assert.equal(logs.length, 1);
    assert.match(
      await health.check(),
      /^failing: writes fail \(database or disk is full\)/,
    );
    now += 4999;
    assert.equal(health.failing, true);
    now += 2;
    assert.equal(health.failing, false);
    assert.equal(await health.check(), "ok");
  } finally {
    kv.close();
  }
});
