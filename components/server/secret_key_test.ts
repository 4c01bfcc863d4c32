import assert from "node:assert/strict";
import { silentLogger } from "@jobico/goico";
import { resolveSecretKey, secretKeyFile } from "./secret_key.ts";
import { SettingError } from "./setting_error.ts";

Deno.test("resolveSecretKey: generated once into <data>/secret-key (0600), then reused", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const a = await resolveSecretKey(undefined, `${tmp}/d`, silentLogger);
    const b = await resolveSecretKey(undefined, `${tmp}/d`, silentLogger);
    assert.equal(a?.length, 32);
    assert.deepEqual(a, b);
    assert.equal(
      (await Deno.stat(secretKeyFile(`${tmp}/d`))).mode! & 0o777,
      0o600,
    );
    assert.equal((await Deno.stat(`${tmp}/d`)).mode! & 0o777, 0o700);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("resolveSecretKey: JOBICO_SECRET_KEY wins; a bad one is refused, naming it; a remote store without one keeps secrets in clear", async () => {
  const hex = "ab".repeat(32);
  assert.deepEqual(
    await resolveSecretKey(hex, ":memory:", silentLogger),
    new Uint8Array(32).fill(0xab),
  );
  await assert.rejects(
    resolveSecretKey("too-short", ":memory:", silentLogger),
    (err) =>
      err instanceof SettingError && /JOBICO_SECRET_KEY/.test(err.message),
  );
  assert.equal(
    await resolveSecretKey(undefined, "https://kv.example/db", silentLogger),
    null,
  );
  assert.equal(
    (await resolveSecretKey(undefined, ":memory:", silentLogger))?.length,
    32,
  );
});
