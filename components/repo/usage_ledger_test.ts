import assert from "node:assert/strict";
import {
  BlobStore,
  ConflictError,
  NotFoundError,
  problemStatus,
  sha256Hex,
} from "@jobico/goico";
import { bigModule } from "../../tests/_big_module.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { testPlatform } from "../server/_test_platform.ts";
import { keys } from "../model/keys.ts";
import type { PlatformParts } from "../platform.ts";
import { FileRepo } from "./file_repo.ts";
import { QuotaExceededError } from "./quota_exceeded_error.ts";
import { UsageLedger } from "./usage_ledger.ts";

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
        assert.equal(problemStatus(err), 429);
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
        assert.equal(err.retryAfter, undefined);
        return true;
      },
    );
    const big = schema("big", 900);
    await assert.rejects(
      p.repo.put("t", "b.json", big),
      (err: unknown) => {
        assert.ok(err instanceof QuotaExceededError);
        assert.equal(problemStatus(err), 413);
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
        assert.equal(problemStatus(r.reason), 413);
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
    // wait for each other on the blob they all publish).
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
        assert.equal(problemStatus(r.reason), 429);
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
    // Only the delete's mark, until its last sweep (see tenant_deletion.ts).
    assert.deepEqual(left, ["tenantdel/gone"]);
    const { sha256 } = (await p.repo.info("keep", "a.json"))!;
    assert.equal(await p.ledger.inUse(sha256), true);
  } finally {
    await p.close();
  }
});

/**
 * The KV, with the first atomic for which `hold` says yes kept from
 * committing until `open` is called (`held` resolves when it is reached).
 */
function holdingKv(
  kv: Deno.Kv,
  hold: (keys: Deno.KvKey[]) => boolean,
): { kv: Deno.Kv; held: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => open = r);
  let reached!: () => void;
  const held = new Promise<void>((r) => reached = r);
  let holding = true;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const written: Deno.KvKey[] = [];
          const set = op.set.bind(op);
          op.set = (key, value, options) => {
            written.push(key);
            return set(key, value, options);
          };
          const commit = op.commit.bind(op);
          op.commit = async () => {
            if (holding && hold(written)) {
              holding = false;
              reached();
              await opened;
            }
            return await commit();
          };
          return op;
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { kv: proxy, held, open };
}

/** A file repository (its blobs and ledger too) over `kv`. */
function repoOver(kv: Deno.Kv): FileRepo {
  const blobs = new BlobStore(kv, keys.blobs(), {
    uploads: keys.blobUploads(),
  });
  return new FileRepo(kv, blobs, { ledger: new UsageLedger(kv, blobs) });
}

/** Keys under a prefix. */
async function countKeys(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  return (await Array.fromAsync(kv.list({ prefix }))).length;
}

Deno.test("collection vs an upload under way: content collected while a tenant is writing the same bytes never loses that upload's chunks", async () => {
  const p = await testPlatform();
  try {
    // 700 KiB: 12 chunks, written in two atomics.
    const bytes = bigModule(700 * 1024);
    const sha = await sha256Hex(bytes);
    // t uploads it; it stops before its second atomic of chunks.
    const slow = holdingKv(
      p.kv,
      // Chunk 10 begins the second atomic.
      (written) => written.some((k) => k[2] === "part" && k[4] === 10),
    );
    const uploading = repoOver(slow.kv).put("t", "big.wasm", bytes);
    await slow.held;
    // Meanwhile another tenant stores the same bytes, lets go of them, and
    // they are collected; abandoned uploads are collected too.
    await p.repo.put("v", "big.wasm", bytes);
    await p.repo.delete("v", "big.wasm");
    assert.equal((await p.ledger.collect({ max: 100 })).collected, 1);
    assert.equal(await p.ledger.blobs.meta(sha), null);
    assert.equal((await p.ledger.blobs.collectAbandoned(60_000)).uploads, 0);
    slow.open();
    await uploading;
    assert.deepEqual((await p.repo.read("t", "big.wasm")).bytes, bytes);
    assert.equal(await p.ledger.inUse(sha), true);
    await assertExact(p, "t");
    assert.equal(await countKeys(p.kv, keys.blobUploads()), 0);
    // Only t's chunks are left.
    assert.equal(
      await countKeys(p.kv, [...keys.blobs(), sha, "part"]),
      Math.ceil(bytes.length / (60 * 1024)),
    );
  } finally {
    await p.close();
  }
});

Deno.test("collection vs an upload of stored content: collected after the upload found it, before its name was written: stored again, whole", async () => {
  const p = await testPlatform();
  try {
    const bytes = bigModule(700 * 1024);
    const sha = await sha256Hex(bytes);
    await p.repo.put("v", "big.wasm", bytes);
    await p.repo.delete("v", "big.wasm");
    // t's upload finds the content stored and stops before the write that
    // names it.
    const slow = holdingKv(
      p.kv,
      (written) => written.some((k) => k[0] === "file" && k[1] === "t"),
    );
    const uploading = repoOver(slow.kv).put("t", "big.wasm", bytes);
    await slow.held;
    assert.equal((await p.ledger.collect({ max: 100 })).collected, 1);
    slow.open();
    await uploading;
    assert.deepEqual((await p.repo.read("t", "big.wasm")).bytes, bytes);
    assert.equal(await p.ledger.inUse(sha), true);
    await assertExact(p, "t");
    assert.equal(await countKeys(p.kv, keys.blobUploads()), 0);
    assert.equal(
      await countKeys(p.kv, [...keys.blobs(), sha, "part"]),
      Math.ceil(bytes.length / (60 * 1024)),
    );
  } finally {
    await p.close();
  }
});

Deno.test("collection vs a new use: content that gains a user while its collection asks who uses it stays", async () => {
  const p = await testPlatform();
  try {
    const bytes = schema("shared", 100);
    const sha = await sha256Hex(bytes);
    await p.repo.put("v", "a.json", bytes);
    await p.repo.delete("v", "a.json");
    // The collector asks whether it is used; t's upload commits meanwhile.
    const collected = await p.ledger.blobs.collect(sha, async () => {
      const used = await p.ledger.inUse(sha);
      await p.repo.put("t", "a.json", bytes);
      return used;
    });
    assert.equal(collected, false);
    assert.deepEqual((await p.repo.read("t", "a.json")).bytes, bytes);
  } finally {
    await p.close();
  }
});
