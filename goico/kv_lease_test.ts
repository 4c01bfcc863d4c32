import assert from "node:assert/strict";
import { KvLease } from "./kv_lease.ts";

Deno.test("KvLease: one holder at a time; an expired lease is taken over and the old holder's writes are refused", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 1_000_000;
    const clock = () => now;
    const a = new KvLease(kv, ["lease"], {
      holder: "a",
      ttlMs: 1000,
      now: clock,
    });
    const b = new KvLease(kv, ["lease"], {
      holder: "b",
      ttlMs: 1000,
      now: clock,
    });
    assert.equal(await a.acquire(), true);
    assert.equal(await b.acquire(), false);
    assert.deepEqual(await b.current(), { holder: "a", until: now + 1000 });
    // a's guarded write passes; b's, without the lease, is refused.
    assert.ok((await kv.atomic().check(a.check()).set(["x"], "a").commit()).ok);
    assert.equal(
      (await kv.atomic().check(b.check()).set(["x"], "b").commit()).ok,
      false,
    );
    // Renewing early writes nothing; past half the time it extends.
    now += 100;
    assert.equal(await a.renew(), true);
    assert.ok((await kv.atomic().check(a.check()).set(["x"], "a").commit()).ok);
    now += 500;
    assert.equal(await a.renew(), true);
    assert.equal((await b.current())?.until, now + 1000);

    // a stalls past its expiry: b takes over, and a's writes are refused.
    now += 1001;
    assert.equal(await b.acquire(), true);
    assert.equal(
      (await kv.atomic().check(a.check()).set(["x"], "late").commit()).ok,
      false,
    );
    assert.equal((await kv.get(["x"])).value, "a");
    assert.equal(await a.renew(), false);
    assert.equal(a.held, false);
    assert.equal(await a.acquire(), false);

    // Released, it is free at once.
    await b.release();
    assert.equal(await b.current(), null);
    assert.equal(await a.acquire(), true);
  } finally {
    kv.close();
  }
});

Deno.test("KvLease: of many holders racing for a free lease, exactly one gets it", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const leases = Array.from(
      { length: 20 },
      (_, i) => new KvLease(kv, ["lease"], { holder: `p${i}` }),
    );
    const got = await Promise.all(leases.map((l) => l.acquire()));
    assert.equal(got.filter(Boolean).length, 1);
    const winner = leases[got.indexOf(true)];
    assert.equal((await winner.current())?.holder, winner.holder);
  } finally {
    kv.close();
  }
});
