/** A token's sha-256 on the calling thread against crypto.subtle's (sha256_hex_now.ts). */
import { sha256Hex } from "./blob_store.ts";
import { sha256HexNow } from "./sha256_hex_now.ts";

const token = "jbt_" + "a".repeat(40);
const bytes = new TextEncoder().encode(token);
Deno.bench("sha256Hex (crypto.subtle.digest), a token", {
  baseline: true,
}, async () => {
  await sha256Hex(bytes);
});
Deno.bench("sha256HexNow (node:crypto), a token", () => {
  sha256HexNow(token);
});
