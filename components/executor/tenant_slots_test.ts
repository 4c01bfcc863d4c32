import assert from "node:assert/strict";
import { TenantSlots } from "./tenant_slots.ts";

Deno.test("TenantSlots: a tenant holds at most `limit` slots; others are not held up", async () => {
  const slots = new TenantSlots(2);
  const a1 = await slots.acquire("a");
  const a2 = await slots.acquire("a");
  const order: string[] = [];
  const a3 = slots.acquire("a").then((release) => {
    order.push("a3");
    return release;
  });
  const a4 = slots.acquire("a").then((release) => {
    order.push("a4");
    return release;
  });
  // Tenant b is not affected by a's waiters.
  const b1 = await slots.acquire("b");
  assert.equal(slots.held("b"), 1);
  await Promise.resolve();
  assert.deepEqual(order, []);
  assert.equal(slots.held("a"), 2);

  a1();
  a1(); // releasing twice gives back one slot only
  const r3 = await a3;
  assert.deepEqual(order, ["a3"]);
  assert.equal(slots.held("a"), 2);
  a2();
  const r4 = await a4;
  assert.deepEqual(order, ["a3", "a4"]);
  r3();
  r4();
  b1();
  assert.equal(slots.held("a"), 0);
  assert.equal(slots.held("b"), 0);
});

Deno.test("TenantSlots: the limit must be a positive integer", () => {
  assert.throws(() => new TenantSlots(0), /positive integer, got 0/);
});
