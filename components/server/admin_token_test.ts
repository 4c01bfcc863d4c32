import assert from "node:assert/strict";
import { silentLogger } from "@jobico/goico";
import { adminTokenFile, resolveAdminToken } from "./admin_token.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "jobico-token-" });
  try {
    await fn(`${dir}/data`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a generated admin token is kept in <data>/admin-token (0600) and reused", async () => {
  await withDir(async (data) => {
    const token = await resolveAdminToken(undefined, data, silentLogger);
    assert.match(token, /^jba_[0-9a-f]{48}$/);
    const file = adminTokenFile(data);
    assert.equal((await Deno.readTextFile(file)).trim(), token);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal(await resolveAdminToken(undefined, data, silentLogger), token);
  });
});

Deno.test("JOBICO_ADMIN_TOKEN replaces a token generated before in the file, which always holds the token taken", async () => {
  await withDir(async (data) => {
    const generated = await resolveAdminToken(undefined, data, silentLogger);
    const own = "my-own-admin-token-0123456789";
    assert.equal(await resolveAdminToken(own, data, silentLogger), own);
    const file = adminTokenFile(data);
    assert.equal((await Deno.readTextFile(file)).trim(), own);
    assert.notEqual(own, generated);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    // No temporary file is left beside it.
    const names = [];
    for await (const e of Deno.readDir(data)) names.push(e.name);
    assert.deepEqual(names, ["admin-token"]);
    // Started again without it: the file's token (the last one taken).
    assert.equal(await resolveAdminToken(undefined, data, silentLogger), own);
  });
});

Deno.test("JOBICO_ADMIN_TOKEN with a store that has no directory writes no file", async () => {
  const own = "my-own-admin-token-0123456789";
  assert.equal(await resolveAdminToken(own, ":memory:", silentLogger), own);
  assert.equal(
    await resolveAdminToken(own, "https://kv.example.test/x", silentLogger),
    own,
  );
});

Deno.test("a JOBICO_ADMIN_TOKEN too short or with spaces is refused, naming the variable", async () => {
  await withDir(async (data) => {
    for (const bad of ["short", "has spaces in the middle!"]) {
      await assert.rejects(
        resolveAdminToken(bad, data, silentLogger),
        /Invalid JOBICO_ADMIN_TOKEN/,
      );
    }
    // Nothing was written for it.
    await assert.rejects(Deno.stat(adminTokenFile(data)), Deno.errors.NotFound);
  });
});
