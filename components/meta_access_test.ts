/**
 * /meta tells a caller without a token only what a health check needs;
 * what the process runs, its load and its limits need a token (the
 * admin's or a tenant's, for `jobico deploy --wait` and `jobico status`).
 */
import assert from "node:assert/strict";
import { createPlatform } from "./platform.ts";

const ADMIN = "meta-admin-token-0123456789";

Deno.test("/meta: name and version without a token or with a wrong one; everything with the admin's or a tenant's", async () => {
  const kv = await Deno.openKv(":memory:");
  const ctrl = new AbortController();
  const p = createPlatform(
    { kv, adminToken: ADMIN, instance: "proc-1", components: ["ctl", "repo"] },
    ctrl.signal,
  );
  try {
    const get = async (headers: Record<string, string> = {}) =>
      await (await p.app.request("/meta", { headers })).json();
    const { token } = await p.tenants.create("acme");
    const open = await get();
    assert.deepEqual(Object.keys(open).sort(), ["instance", "name", "version"]);
    assert.equal(open.name, "jobico");
    assert.equal(open.instance, "proc-1");
    // Attack: a wrong or malformed token learns no more than none.
    assert.deepEqual(
      await get({ authorization: "Bearer wrong-0123456789ab" }),
      open,
    );
    assert.deepEqual(await get({ authorization: "Basic abc" }), open);
    for (const t of [ADMIN, token]) {
      const full = await get({ authorization: `Bearer ${t}` });
      assert.deepEqual(full.components, ["ctl", "repo"]);
      assert.equal(typeof full.definitionsLatest, "number");
      assert.equal(typeof full.definitionsSeen, "number");
      assert.ok(full.limits);
    }
  } finally {
    ctrl.abort();
    kv.close();
  }
});
