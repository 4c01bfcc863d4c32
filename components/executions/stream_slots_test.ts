import assert from "node:assert/strict";
import { problemBody, problemResponse, TooManyError } from "@jobico/goico";
import { StreamSlots } from "./stream_slots.ts";

const LIMITS = { maxStreams: 3, maxStreamsPerTenant: 2, retryAfterSeconds: 7 };

/** The error `acquire` throws. */
function refusal(slots: StreamSlots, tenant: string): TooManyError {
  try {
    slots.acquire(tenant);
  } catch (err) {
    assert.ok(err instanceof TooManyError);
    return err;
  }
  throw new Error(`A slot was given to "${tenant}"`);
}

Deno.test("StreamSlots: a tenant gets its slots up to its limit, then a 429 naming it", () => {
  const slots = new StreamSlots(LIMITS);
  slots.acquire("a");
  slots.acquire("a");
  assert.equal(slots.openFor("a"), 2);
  const err = refusal(slots, "a");
  assert.equal(problemResponse(err).headers.get("retry-after"), "7");
  assert.deepEqual(problemBody(err), {
    type: "about:blank",
    title: "Too many requests",
    status: 429,
    detail:
      'Tenant "a" has 2 execution streams open, the most one tenant may have (2): close one, or retry later',
    limit: "maxStreamsPerTenant",
    max: 2,
    open: 2,
  });
  // The refusal took nothing.
  assert.equal(slots.open, 2);
  // Another tenant still gets its own.
  slots.acquire("b");
  assert.equal(slots.open, 3);
});

Deno.test("StreamSlots: past the limit in all, every tenant is refused with a 429 naming it", () => {
  const slots = new StreamSlots(LIMITS);
  slots.acquire("a");
  slots.acquire("b");
  slots.acquire("c");
  for (const t of ["a", "d"]) {
    const body = problemBody(refusal(slots, t));
    assert.equal(body.limit, "maxStreams");
    assert.equal(body.max, 3);
    assert.equal(
      body.detail,
      "The server has 3 execution streams open, the most it serves at once (3): retry later",
    );
  }
});

Deno.test("StreamSlots: a released slot is free again; releasing twice gives back one", () => {
  const slots = new StreamSlots(LIMITS);
  const release = slots.acquire("a");
  slots.acquire("a");
  refusal(slots, "a");
  release();
  release();
  assert.equal(slots.open, 1);
  assert.equal(slots.openFor("a"), 1);
  slots.acquire("a");
  refusal(slots, "a");
  assert.equal(slots.open, 2);
});
