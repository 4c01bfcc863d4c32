import assert from "node:assert/strict";
import { newSecretKey, SecretBox } from "@jobico/goico";
import { keys } from "../model/keys.ts";
import { TenantStore } from "./tenant_store.ts";
import { tenantBorn } from "./tenant_born.ts";

type Stored = { webhookSecrets: { secret: string }[] };

Deno.test("TenantStore: with a secret key, webhook secrets are stored sealed and read in clear, rotations too", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const tenants = new TenantStore(kv, {
      secrets: new SecretBox(newSecretKey()),
    });
    await tenants.create("acme");
    const first = await tenants.webhookSecrets("acme");
    assert.match(first.secret, /^whsec_/);
    const rotated = await tenants.rotateWebhookSecret("acme");
    assert.equal(rotated.previous?.secret, first.secret);
    const stored = (await kv.get<Stored>(keys.tenantCredentials("acme")))
      .value!;
    assert.equal(stored.webhookSecrets.length, 2);
    for (const w of stored.webhookSecrets) {
      assert.match(w.secret, /^sealed:v1:/);
    }
  } finally {
    kv.close();
  }
});

Deno.test("TenantStore: attack: secrets sealed with another key, or read without one, are an error naming the key, never garbage", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await new TenantStore(kv, { secrets: new SecretBox(newSecretKey()) })
      .create("acme");
    await assert.rejects(
      new TenantStore(kv, { secrets: new SecretBox(newSecretKey()) })
        .webhookSecrets("acme"),
      /sealed with another secret key: set JOBICO_SECRET_KEY/,
    );
    await assert.rejects(
      new TenantStore(kv).webhookSecrets("acme"),
      /sealed, and this server has no secret key/,
    );
  } finally {
    kv.close();
  }
});

Deno.test("TenantStore: a secret stored in clear is sealed the first time it is read", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await new TenantStore(kv).create("old");
    const clear = (await kv.get<Stored>(keys.tenantCredentials("old"))).value!
      .webhookSecrets[0].secret;
    assert.match(clear, /^whsec_/);
    const sealed = new TenantStore(kv, {
      secrets: new SecretBox(newSecretKey()),
    });
    assert.equal((await sealed.webhookSecrets("old")).secret, clear);
    const stored = (await kv.get<Stored>(keys.tenantCredentials("old")))
      .value!;
    assert.match(stored.webhookSecrets[0].secret, /^sealed:v1:/);
    assert.equal((await sealed.webhookSecrets("old")).secret, clear);
  } finally {
    kv.close();
  }
});

Deno.test("TenantStore: tokens looked up at once, known and unknown, each get their own tenant or null", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const tenants = new TenantStore(kv);
    const made = await Promise.all(
      ["a", "b", "c"].map((id) => tenants.create(id)),
    );
    // Read together (the lookups of concurrent requests share reads): 25
    // tokens, more than one read holds, each answered for itself.
    const asked = Array.from(
      { length: 25 },
      (_, i) => i % 5 === 0 ? made[i % 3].token : `jbt_unknown_${i}`,
    );
    const got = await Promise.all(asked.map((t) => tenants.tenantOfToken(t)));
    assert.deepEqual(
      got,
      asked.map((t) => made.find((m) => m.token === t)?.id ?? null),
    );
    // A rotated token is unknown at once (its cache entry goes with it).
    const old = made[0].token;
    await tenants.rotateToken("a");
    assert.equal(await tenants.tenantOfToken(old), null);
  } finally {
    kv.close();
  }
});

Deno.test("TenantStore: createdAt is the earlier of the recorded birth and the credentials' time", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = Date.parse("2026-01-01T00:00:00.000Z");
    const tenants = new TenantStore(kv, { now: () => now });
    await tenants.create("acme");
    assert.equal(
      (await tenants.get("acme")).createdAt,
      "2026-01-01T00:00:00.000Z",
    );
    // A tenant created before births were recorded, written to later.
    await kv.delete(keys.tenantBorn("acme"));
    now += 86_400_000;
    await tenantBorn(kv.atomic(), "acme", now).commit();
    assert.equal(
      (await tenants.get("acme")).createdAt,
      "2026-01-01T00:00:00.000Z",
    );
    // A later write never moves a recorded birth.
    await tenantBorn(kv.atomic(), "acme", now + 1).commit();
    assert.equal(
      (await kv.get<Deno.KvU64>(keys.tenantBorn("acme"))).value?.value,
      BigInt(now),
    );
  } finally {
    kv.close();
  }
});
