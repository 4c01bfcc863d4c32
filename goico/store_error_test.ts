import assert from "node:assert/strict";
import { DomainError, ValidationError } from "./domain_error.ts";
import { problemResponse } from "./problem.ts";
import { storeFailure, StoreUnavailableError } from "./store_error.ts";

Deno.test("storeFailure: SQLite's disk-full error (as Deno KV throws it) is a 503 with Retry-After", () => {
  const err = storeFailure(new TypeError("database or disk is full"));
  assert.ok(err instanceof StoreUnavailableError);
  assert.ok(err instanceof DomainError);
  assert.equal(err.kind, "store_unavailable");
  assert.equal(err.reason, "full");
  assert.equal(err.retryAfter, 5);
  assert.ok(err.cause instanceof TypeError, "the store's error is its cause");
  const res = problemResponse(err);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "5");
  assert.deepEqual(err.extra, { store: "full" });
  assert.match(err.message, /^The store is full \(database or disk is full\)/);
});

Deno.test("storeFailure: I/O and read-only errors are store failures too", () => {
  assert.equal(storeFailure(new Error("disk I/O error"))?.reason, "io");
  assert.equal(
    storeFailure(new TypeError("attempt to write a readonly database"))
      ?.reason,
    "readonly",
  );
  assert.equal(storeFailure(new Error("database is locked"))?.reason, "busy");
});

Deno.test("storeFailure: other errors are not (a bug stays a 500, a 400 stays a 400)", () => {
  assert.equal(storeFailure(new TypeError("x is not a function")), null);
  assert.equal(storeFailure(new RangeError("Value too large")), null);
  // A client's text that quotes the message is not a store failure.
  assert.equal(
    storeFailure(new ValidationError("database or disk is full")),
    null,
  );
  assert.equal(storeFailure("database or disk is full"), null);
});
