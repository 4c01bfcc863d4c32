import assert from "node:assert/strict";
import { KeyedLocks } from "./keyed_locks.ts";

Deno.test("holders of one key take turns; other keys do not wait; idle keys are forgotten", async () => {
  const locks = new KeyedLocks();
  const order: string[] = [];
  const first = await locks.acquire(["a", "b"]);
  const second = locks.acquire(["b"]).then((release) => {
    order.push("second");
    release();
  });
  const other = await locks.acquire(["c"]);
  order.push("other");
  other();
  order.push("first");
  first();
  await second;
  assert.deepEqual(order, ["other", "first", "second"]);
  assert.equal(locks.size, 0);
});

Deno.test("attack: 1,000 distinct keys leave nothing behind", async () => {
  const locks = new KeyedLocks();
  await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => {
      const release = await locks.acquire([`k${i}`, `k${(i + 1) % 1000}`]);
      await Promise.resolve();
      release();
    }),
  );
  assert.equal(locks.size, 0);
});
