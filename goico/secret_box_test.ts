import assert from "node:assert/strict";
import {
  formatSecretKey,
  newSecretKey,
  parseSecretKey,
  SealError,
  SecretBox,
} from "./secret_box.ts";

Deno.test("SecretBox: seals and opens; the sealed text holds nothing of the secret", async () => {
  const box = new SecretBox(newSecretKey());
  const sealed = await box.seal("whsec_abc", "tenantcred:acme");
  assert.ok(SecretBox.isSealed(sealed));
  assert.ok(!sealed.includes("whsec_abc"));
  assert.notEqual(sealed, await box.seal("whsec_abc", "tenantcred:acme"));
  assert.equal(await box.open(sealed, "tenantcred:acme"), "whsec_abc");
});

Deno.test("SecretBox: attack: a sealed value moved to another context, opened with another key, or altered does not open", async () => {
  const key = newSecretKey();
  const box = new SecretBox(key);
  const sealed = await box.seal("whsec_abc", "tenantcred:acme");
  await assert.rejects(box.open(sealed, "tenantcred:evil"), SealError);
  await assert.rejects(
    new SecretBox(newSecretKey()).open(sealed, "tenantcred:acme"),
    SealError,
  );
  const flipped = sealed.slice(0, -2) + (sealed.at(-2) === "A" ? "B" : "A") +
    sealed.at(-1);
  await assert.rejects(box.open(flipped, "tenantcred:acme"), SealError);
  await assert.rejects(box.open("whsec_abc", "tenantcred:acme"), SealError);
});

Deno.test("parseSecretKey: hex and base64(url) of 32 bytes; anything else is null", () => {
  const key = newSecretKey();
  assert.deepEqual(parseSecretKey(formatSecretKey(key)), key);
  const hex = Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.deepEqual(parseSecretKey(hex), key);
  assert.deepEqual(parseSecretKey(btoa(String.fromCharCode(...key))), key);
  assert.equal(parseSecretKey("short"), null);
  assert.equal(parseSecretKey(hex.slice(2)), null);
  assert.throws(() => new SecretBox(new Uint8Array(16)), /32 bytes/);
});
