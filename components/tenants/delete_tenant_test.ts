import assert from "node:assert/strict";
import { ConflictError, sha256Hex } from "@jobico/goico";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { TEST_ADMIN_TOKEN, testPlatform } from "../server/_test_platform.ts";
import { keys } from "../model/keys.ts";
import { createPlatform, type PlatformParts } from "../platform.ts";
import {
  deleteTenant,
  type DeleteTenantParts,
  finishTenantDeletions,
} from "./delete_tenant.ts";

const text = (s: string) => new TextEncoder().encode(s);
const SHARED = text('{"description": "used by both tenants"}');

const pkg = (tenant: string) => `
id: p
name: p
tenant: ${tenant}
queues: [{id: q}]
jobs:
  - event: {id: ev, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: r}
runtimes:
  - {id: r, moduleref: m.wasm}
`;

/**
 * "gone" has files (one content shared with "keep", one its own), a
 * version, settings, a queued event (a version pin) and usage; "keep"
 * uses the shared content.
 */
async function world(p: PlatformParts, own: Uint8Array): Promise<void> {
  await p.tenants.create("gone");
  await p.repo.put("gone", "any.json", SHARED);
  await p.repo.put("gone", "m.wasm", own);
  await p.store.deploy(pkg("gone"));
  await p.policies.update("gone", { retention: { days: 30 } });
  const sent = await p.app.request("/events/gone/ev", {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify({ data: [{}] }),
  });
  assert.equal(sent.status, 200, await sent.text());
  await p.repo.put("keep", "shared.json", SHARED);
}

/** What a platform's deletes work with. */
const deletion = (p: PlatformParts, kv: Deno.Kv): DeleteTenantParts => ({
  kv,
  tenants: p.tenants,
  store: p.store,
  queue: p.queue,
  ledger: p.ledger,
});

/** The ledger's counts of `tenant` equal what its files and versions hold. */
async function assertExact(p: PlatformParts, tenant: string): Promise<void> {
  const stored = await p.ledger.read(tenant);
  const { usage } = await p.ledger.measure(tenant);
  assert.deepEqual(
    { files: stored.files, bytes: stored.bytes, versions: stored.versions },
    { files: usage.files, bytes: usage.bytes, versions: usage.versions },
  );
}

/** Every key that names "gone". */
async function tracesOfGone(kv: Deno.Kv): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: [] })) {
    const k = JSON.stringify(e.key);
    if (k.includes("gone")) out.push(k);
  }
  return out;
}

async function countKeys(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  return (await Array.fromAsync(kv.list({ prefix }))).length;
}

/** After the delete is finished: nothing of "gone", its own content collected, "keep" intact and counted right. */
async function assertFinished(
  p: PlatformParts,
  kv: Deno.Kv,
  ownSha: string,
): Promise<void> {
  assert.deepEqual(await tracesOfGone(kv), []);
  assert.equal(await countKeys(kv, [...keys.blobs(), ownSha]), 0);
  assert.deepEqual((await p.repo.read("keep", "shared.json")).bytes, SHARED);
  assert.equal(await p.ledger.inUse(await sha256Hex(SHARED)), true);
  await assertExact(p, "keep");
  assert.deepEqual(await p.ledger.read("keep"), {
    files: 1,
    bytes: SHARED.length,
    versions: 0,
    changes: 1,
    swept: 0,
  });
  assert.equal(await countKeys(kv, keys.blobCandidates()), 0);
  assert.equal(await countKeys(kv, keys.blobUploads()), 0);
}

Deno.test("deleteTenant: its usage, settings, version pins and entries in the index of content users go; contents only it used are collected, shared ones stay", async () => {
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    const own = await compileWat("echo");
    const ownSha = await sha256Hex(own);
    await world(p, own);
    // What the delete must remove is there.
    for (
      const key of [
        keys.usage("gone"),
        keys.tenantSettings("gone"),
        keys.versionPin("gone", "p", 1),
        keys.blobUser(ownSha, "gone"),
        keys.blobRef("gone", ownSha),
      ]
    ) assert.notEqual((await p.kv.get(key)).versionstamp, null, String(key));
    const del = await p.app.request("/api/v1/tenants/gone", {
      method: "DELETE",
    });
    assert.equal(del.status, 204);
    // Only the delete's mark is left until its last sweep.
    assert.deepEqual(await tracesOfGone(p.kv), ['["tenantdel","gone"]']);
    await finishTenantDeletions(deletion(p, p.kv), { finalSweepAfterMs: 0 });
    await assertFinished(p, p.kv, ownSha);
    // The id starts afresh: counted from nothing.
    await p.tenants.create("gone");
    await p.repo.put("gone", "any.json", SHARED);
    assert.deepEqual(await p.ledger.read("gone"), {
      files: 1,
      bytes: SHARED.length,
      versions: 0,
      changes: 1,
      swept: 0,
    });
  } finally {
    await p.close();
  }
});

/** A KV on which every write after the first `budget` throws, as if the process died there. */
function dyingKv(
  kv: Deno.Kv,
  budget: number,
): { kv: Deno.Kv; died(): boolean } {
  let left = budget;
  const write = () => {
    if (left-- <= 0) throw new Error("the process died here");
  };
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = () => {
            write();
            return commit();
          };
          return op;
        };
      }
      if (prop === "set" || prop === "delete" || prop === "enqueue") {
        const f = Reflect.get(target, prop) as (...a: unknown[]) => unknown;
        return (...args: unknown[]) => {
          write();
          return f.apply(target, args);
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { kv: proxy, died: () => left < 0 };
}

Deno.test("deleteTenant cut short at each of its writes: finished afterwards, nothing of it left, the other tenant's content and counts intact", async () => {
  const own = await compileWat("echo");
  const ownSha = await sha256Hex(own);
  let points = 0;
  for (let budget = 0;; budget++) {
    const kv = await Deno.openKv(":memory:");
    const ctrl = new AbortController();
    try {
      const options = {
        adminToken: TEST_ADMIN_TOKEN,
        components: ["ctl", "repo", "listener"] as const,
        sweepIntervalMs: 0,
      };
      const p = createPlatform({ kv, ...options }, ctrl.signal);
      await world(p, own);
      // The process that deletes dies after `budget` writes.
      const dying = dyingKv(kv, budget);
      const doomed = createPlatform({ kv: dying.kv, ...options }, ctrl.signal);
      let error: unknown;
      await deleteTenant(deletion(doomed, dying.kv), "gone").catch((e) =>
        error = e
      );
      if (!dying.died()) {
        assert.equal(error, undefined);
        break;
      }
      points++;
      if ((await kv.get(keys.tenantDeletion("gone"))).versionstamp === null) {
        // Died before the mark: nothing was deleted.
        assert.equal(budget, 0);
        assert.ok(await p.tenants.exists("gone"));
        await assertExact(p, "gone");
        continue;
      }
      // Another process finishes it, with what runs in the background:
      // the delete's last sweep, abandoned uploads, retention's collection.
      await finishTenantDeletions(deletion(p, kv), { finalSweepAfterMs: 0 });
      await finishTenantDeletions(deletion(p, kv), { finalSweepAfterMs: 0 });
      await p.ledger.blobs.collectAbandoned(0);
      await p.ledger.collect({ max: 100 });
      await assertFinished(p, kv, ownSha);
    } finally {
      ctrl.abort();
      kv.close();
    }
  }
  // Every write of a delete was a point it could die at.
  assert.ok(points > 10, `only ${points} points`);
});

Deno.test("a tenant being deleted: an upload is a 409, and nothing of it is written, not even a first count of its usage", async () => {
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    await p.tenants.create("gone");
    // Marked, not swept yet (the process stopped there).
    await p.tenants.markDeleted("gone", (op) => op);
    const before = await tracesOfGone(p.kv);
    await assert.rejects(
      p.repo.put("gone", "any.json", SHARED),
      (err: unknown) =>
        err instanceof ConflictError &&
        /Tenant "gone" is being deleted; try again once it is gone/.test(
          err.message,
        ),
    );
    const put = await p.app.request("/api/v1/tenants/gone/files/x.json", {
      method: "PUT",
      body: SHARED,
    });
    assert.equal(put.status, 409);
    assert.match(
      (await put.json()).detail,
      /Tenant "gone" is being deleted; try again once it is gone/,
    );
    assert.deepEqual(await tracesOfGone(p.kv), before);
    assert.equal(await countKeys(p.kv, keys.blobs()), 0);
    assert.equal(await countKeys(p.kv, keys.blobUploads()), 0);
  } finally {
    await p.close();
  }
});
