import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../../goico/mod.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { testPlatform } from "../_test_platform.ts";
import { keys } from "../keys.ts";
import type { PlatformParts } from "../platform.ts";
import { QuotaExceededError } from "./quota_exceeded_error.ts";

const text = (s: string) => new TextEncoder().encode(s);
/** A schema of about `n` bytes, different for each `tag`. */
const schema = (tag: string, n = 0) =>
  text(JSON.stringify({ description: tag + "x".repeat(n) }));

/** A package of `tenant` whose one event runs module `m.wasm`. */
const pkg = (tenant: string, name = "v") => `
id: p
name: ${name}
tenant: ${tenant}
queues: [{id: q}]
jobs:
  - event: {id: ev, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: r}
runtimes:
  - {id: r, moduleref: m.wasm}
`;

/** The ledger's counts equal what the tenant's files and versions hold. */
async function assertExact(p: PlatformParts, tenant: string): Promise<void> {
  const stored = await p.ledger.read(tenant);
  const { usage } = await p.ledger.measure(tenant);
  assert.deepEqual(
    { files: stored.files, bytes: stored.bytes, versions: stored.versions },
    { files: usage.files, bytes: usage.bytes, versions: usage.versions },
  );
}

Deno.test("usage: files, bytes of distinct contents, versions; replacing and deleting give room back", async () => {
  const p = await testPlatform();
  try {
    const a = schema("a", 100);
    const b = schema("b", 300);
    await p.repo.put("t", "a.json", a);
    await p.repo.put("t", "a-again.json", a);
    await p.repo.put("t", "b.json", b);
    // The same content under two names is stored, and counted, once.
    assert.deepEqual(await p.ledger.read("t"), {
      files: 3,
      bytes: a.length + b.length,
      versions: 0,
      changes: 1,
      swept: 0,
    });
    await p.repo.put("t", "b.json", a);
    assert.equal((await p.ledger.read("t")).bytes, a.length);
    await assertExact(p, "t");
    // The replaced content is a candidate for collection.
    const { sha256 } = (await p.repo.info("t", "a.json"))!;
    assert.ok(
      (await Array.fromAsync(p.kv.list({ prefix: keys.blobCandidates() })))
        .length > 0,
    );
    await p.repo.delete("t", "a.json");
    await p.repo.delete("t", "a-again.json");
    assert.deepEqual(
      { ...(await p.ledger.read("t")) },
      { files: 1, bytes: a.length, versions: 0, changes: 1, swept: 0 },
    );
    await p.repo.delete("t", "b.json");
    assert.equal((await p.ledger.read("t")).bytes, 0);
    await assert.rejects(p.repo.delete("t", "b.json"), NotFoundError);
    assert.equal(await p.ledger.inUse(sha256), false);
    await assertExact(p, "t");
  } finally {
    await p.close();
  }
});

Deno.test("usage: a version keeps the content it pins counted until it goes", async () => {
  const p = await testPlatform();
  try {
    const echo = await compileWat("echo");
    const error = await compileWat("error");
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", echo);
    await p.store.deploy(pkg("t"));
    // The module is replaced: version 1 still runs (and keeps) the old one.
    await p.repo.put("t", "m.wasm", error);
    let usage = await p.ledger.read("t");
    assert.equal(usage.bytes, 2 + echo.length + error.length);
    assert.equal(usage.versions, 1);
    await p.store.deploy(pkg("t", "v2"));
    assert.equal((await p.ledger.read("t")).versions, 2);
    await assertExact(p, "t");
    // Version 1 goes: the old module is no longer counted, nor used.
    assert.ok(await p.ledger.dropVersion("t", "p", 1));
    usage = await p.ledger.read("t");
    assert.equal(usage.bytes, 2 + error.length);
    assert.equal(usage.versions, 1);
    assert.equal(await p.store.version("t", "p", 1), null);
    assert.equal(await p.store.source("t", "p", 1), null);
    await assertExact(p, "t");
    // Deleting the package gives the rest back.
    await p.store.delete("t", "p");
    usage = await p.ledger.read("t");
    assert.equal(usage.versions, 0);
    assert.equal(usage.bytes, 2 + error.length);
    await assertExact(p, "t");
  } finally {
    await p.close();
  }
});

Deno.test("quotas: the files quota is a 429, the bytes quota a 413, both naming the quota, its limit and the usage; nothing is stored", async () => {
  const p = await testPlatform({ quotas: { files: 2, bytes: 1000 } });
  try {
    await p.repo.put("t", "a.json", schema("a", 100));
    await p.repo.put("t", "b.json", schema("b", 100));
    // Replacing a file does not add one.
    await p.repo.put("t", "b.json", schema("b2", 100));
    const blobs = async () =>
      (await Array.fromAsync(p.kv.list({ prefix: ["blob"] }))).length;
    const before = await blobs();
    await assert.rejects(
      p.repo.put("t", "c.json", schema("c")),
      (err: unknown) => {
        assert.ok(err instanceof QuotaExceededError);
        assert.equal(err.status, 429);
        assert.equal(
          err.message,
          'Tenant "t" has 2 files and its files quota is 2: delete a file to upload "c.json", or ask the admin to raise quotas.files',
        );
        assert.deepEqual(err.extra, {
          quota: "files",
          tenant: "t",
          limit: 2,
          usage: 2,
          requested: 1,
        });
        assert.equal(err.headers["retry-after"], undefined);
        return true;
      },
    );
    const big = schema("big", 900);
    await assert.rejects(
      p.repo.put("t", "b.json", big),
      (err: unknown) => {
        assert.ok(err instanceof QuotaExceededError);
        assert.equal(err.status, 413);
        const used = schema("a", 100).length + schema("b2", 100).length;
        assert.equal(
          err.message,
          `File "b.json" (${big.length} bytes) does not fit the bytes quota of tenant "t": it stores ${used} of 1000 bytes; delete files or package versions, or ask the admin to raise quotas.bytes`,
        );
        assert.deepEqual(err.extra, {
          quota: "bytes",
          tenant: "t",
          limit: 1000,
          usage: used,
          requested: big.length,
        });
        return true;
      },
    );
    // Refused before the bytes were stored.
    assert.equal(await blobs(), before);
    // A tenant's own settings win over the platform's.
    await p.policies.update("t", { quotas: { files: 3 } });
    await p.repo.put("t", "c.json", schema("c"));
    await assertExact(p, "t");
  } finally {
    await p.close();
  }
});

Deno.test("quotas attack: uploads racing for the last room of the bytes quota; exactly the ones that fit get in", async () => {
  const p = await testPlatform({ quotas: { bytes: 10_000 } });
  try {
    // Each fits alone, any two do not.
    const files = Array.from({ length: 12 }, (_, i) => schema(`f${i}`, 6_000));
    const results = await Promise.allSettled(
      files.map((f, i) => p.repo.put("t", `f${i}.json`, f)),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const r of results) {
      if (r.status === "rejected") {
        assert.ok(r.reason instanceof QuotaExceededError, String(r.reason));
        assert.equal(r.reason.status, 413);
      }
    }
    const usage = await p.ledger.read("t");
    assert.equal(usage.files, 1);
    assert.ok(usage.bytes <= 10_000);
    await assertExact(p, "t");
  } finally {
    await p.close();
  }
});

Deno.test("quotas attack, default settings: 20 uploads racing for the last 10 of the 1,000 files each tenant may have", async () => {
  const p = await testPlatform();
  try {
    // Small, distinct contents (the same content would make the uploads
    // wait for each other on the blob they all claim).
    for (let i = 0; i < 990; i += 30) {
      await Promise.all(
        Array.from(
          { length: 30 },
          (_, j) => p.repo.put("t", `f${i + j}.json`, schema(`f${i + j}`)),
        ),
      );
    }
    assert.equal((await p.ledger.read("t")).files, 990);
    const results = await Promise.allSettled(
      Array.from(
        { length: 20 },
        (_, i) => p.repo.put("t", `last${i}.json`, schema(`last${i}`)),
      ),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 10);
    for (const r of results) {
      if (r.status === "rejected") {
        assert.ok(r.reason instanceof QuotaExceededError, String(r.reason));
        assert.equal(r.reason.status, 429);
        assert.equal(r.reason.extra.limit, 1000);
      }
    }
    assert.equal((await p.repo.list("t")).length, 1000);
    await assertExact(p, "t");
  } finally {
    await p.close();
  }
});

Deno.test("usage: a tenant stored before usage was kept is counted exactly on its first change", async () => {
  const p = await testPlatform();
  try {
    const echo = await compileWat("echo");
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", echo);
    await p.store.deploy(pkg("t"));
    await p.repo.put("t", "m.wasm", await compileWat("error"));
    const expected = await p.ledger.read("t");
    // As the store was before usage was kept: no usage, no per-content records.
    for (
      const prefix of [
        keys.usage("t"),
        keys.blobRefs("t"),
        ["contentuser"],
      ]
    ) {
      for await (const e of p.kv.list({ prefix })) await p.kv.delete(e.key);
      await p.kv.delete(prefix);
    }
    assert.equal(
      await p.ledger.inUse((await p.repo.info("t", "any.json"))!.sha256),
      false,
    );
    // Reading counts without writing.
    assert.deepEqual(
      { ...await p.ledger.read("t") },
      { ...expected, changes: 1, swept: 0 },
    );
    assert.equal((await p.kv.get(keys.usage("t"))).versionstamp, null);
    // The first change counts it first, then applies.
    await p.repo.put("t", "extra.json", schema("extra"));
    const usage = await p.ledger.read("t");
    assert.equal(usage.files, expected.files + 1);
    assert.equal(usage.versions, 1);
    assert.equal(
      await p.ledger.inUse((await p.repo.info("t", "any.json"))!.sha256),
      true,
    );
    await assertExact(p, "t");
  } finally {
    await p.close();
  }
});

Deno.test("collection: a blob goes once no tenant and no version uses it, never before", async () => {
  const p = await testPlatform();
  try {
    const echo = await compileWat("echo");
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", echo);
    await p.store.deploy(pkg("t"));
    // Another tenant uses the same module.
    await p.repo.put("u", "copy.wasm", echo);
    await p.repo.put("t", "m.wasm", await compileWat("error"));
    const echoSha = (await p.repo.info("u", "copy.wasm"))!.sha256;
    const collect = () => p.ledger.collect({ max: 100 });
    await collect();
    assert.ok(await p.repo.bytes(echoSha));
    // u lets go; version 1 of t still pins it.
    await p.repo.delete("u", "copy.wasm");
    await collect();
    assert.deepEqual(await p.repo.bytes(echoSha), echo);
    // The version goes: nobody uses it, and it is collected.
    assert.ok(await p.ledger.dropVersion("t", "p", 1));
    assert.equal((await collect()).collected, 1);
    await assert.rejects(p.repo.bytes(echoSha), NotFoundError);
    assert.deepEqual(
      await Array.fromAsync(p.kv.list({ prefix: keys.blobCandidates() })),
      [],
    );
    // What t uses now is intact.
    const v2 = await p.store.deploy(pkg("t", "v2"));
    const cur = await p.store.version("t", "p", v2.version);
    for (const sha of Object.values(cur!.files)) {
      assert.ok(await p.repo.bytes(sha));
    }
  } finally {
    await p.close();
  }
});

Deno.test("usage: a deploy whose file is replaced while it is deployed is refused, not counted wrong", async () => {
  const p = await testPlatform();
  try {
    const echo = await compileWat("echo");
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", echo);
    const { sha256 } = (await p.repo.info("t", "m.wasm"))!;
    await p.repo.put("t", "m.wasm", await compileWat("error"));
    // A version that pins content the tenant no longer has.
    await assert.rejects(
      p.ledger.addVersion("t", { "m.wasm": sha256 }),
      (err: unknown) =>
        err instanceof ConflictError &&
        /File "m\.wasm" of tenant "t" was replaced or deleted while deploying; deploy again/
          .test(err.message),
    );
    await assertExact(p, "t");
  } finally {
    await p.close();
  }
});

Deno.test("forgetTenant: a deleted tenant leaves no index entry", async () => {
  const p = await testPlatform();
  try {
    await p.tenants.create("gone");
    await p.repo.put("gone", "a.json", schema("a"));
    await p.repo.put("keep", "a.json", schema("a"));
    const del = await p.app.request("/api/v1/tenants/gone", {
      method: "DELETE",
    });
    assert.equal(del.status, 204);
    const left = (await Array.fromAsync(p.kv.list({ prefix: [] })))
      .map((e) => e.key.join("/"))
      .filter((k) => k.includes("gone"));
    assert.deepEqual(left, []);
    const { sha256 } = (await p.repo.info("keep", "a.json"))!;
    assert.equal(await p.ledger.inUse(sha256), true);
  } finally {
    await p.close();
  }
});
