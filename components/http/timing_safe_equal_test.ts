import assert from "node:assert/strict";
import { timingSafeEqual } from "./timing_safe_equal.ts";

Deno.test("timingSafeEqual is true only for the same string", () => {
  const secret = "c65cfaaa";
  assert.equal(timingSafeEqual("c65cfaaa", secret), true);
  assert.equal(timingSafeEqual("c65cfaab", secret), false);
  assert.equal(timingSafeEqual("d65cfaaa", secret), false);
  assert.equal(timingSafeEqual("C65CFAAA", secret), false);
  assert.equal(timingSafeEqual("", ""), true);
});

Deno.test("timingSafeEqual refuses a prefix, a longer string and an empty one", () => {
  const secret = "admin-token-0123456789";
  assert.equal(timingSafeEqual("admin-token-012345678", secret), false);
  assert.equal(timingSafeEqual(secret + "0", secret), false);
  assert.equal(timingSafeEqual(secret + "\u0000", secret), false);
  assert.equal(timingSafeEqual("", secret), false);
  assert.equal(timingSafeEqual(secret, ""), false);
});

Deno.test("timingSafeEqual compares characters beyond ASCII", () => {
  assert.equal(timingSafeEqual("tökén-ü", "tökén-ü"), true);
  assert.equal(timingSafeEqual("tökén-u", "tökén-ü"), false);
  assert.equal(timingSafeEqual("🎉", "🎉"), true);
  assert.equal(timingSafeEqual("🎈", "🎉"), false);
});
