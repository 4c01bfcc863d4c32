import assert from "node:assert/strict";
import { sha256Hex } from "./blob_store.ts";
import { sha256HexNow } from "./sha256_hex_now.ts";

Deno.test("sha256HexNow: the same digests as crypto.subtle (sha256Hex), for strings as UTF-8 and for bytes", async () => {
  const inputs = [
    "",
    "abc",
    "jbt_" + "x".repeat(40),
    "ünï €",
    "a".repeat(70_000),
  ];
  for (const s of inputs) {
    const bytes = new TextEncoder().encode(s);
    const want = await sha256Hex(bytes);
    assert.equal(sha256HexNow(s), want, JSON.stringify(s.slice(0, 10)));
    assert.equal(sha256HexNow(bytes), want);
  }
  // The known answer for "abc" (FIPS 180-2).
  assert.equal(
    sha256HexNow("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
