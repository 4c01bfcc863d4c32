import assert from "node:assert/strict";
import { BlobStore, sha256Hex } from "./blob_store.ts";

const encoder = new TextEncoder();

/** Deterministic, non-repeating-looking bytes (a small LCG). */
function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

Deno.test("sha256Hex of 'abc' is the FIPS 180-2 test vector", async () => {
  assert.equal(
    await sha256Hex(encoder.encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    await sha256Hex(new Uint8Array()),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("BlobStore: a small blob round trips", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const bytes = encoder.encode("hello, blob");
    const meta = await store.put(bytes);
    assert.deepEqual(meta, {
      sha256: await sha256Hex(bytes),
      size: bytes.length,
      chunks: 1,
    });
    assert.deepEqual(await store.meta(meta.sha256), meta);
    const back = await store.get(meta.sha256);
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual(back, bytes);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: an empty blob round trips", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const meta = await store.put(new Uint8Array());
    assert.equal(meta.size, 0);
    assert.deepEqual(await store.get(meta.sha256), new Uint8Array());
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: a 1.5 MiB blob spans chunks and atomics and round trips byte-exact", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const bytes = pseudoRandomBytes(1.5 * 1024 * 1024, 42);
    const meta = await store.put(bytes);
    assert.equal(meta.size, bytes.length);
    // 60 KiB chunks, 10 per atomic: 26 chunks written in 3 atomics.
    assert.equal(meta.chunks, Math.ceil(bytes.length / (60 * 1024)));
    assert.ok(meta.chunks > 20);
    const chunkEntries = await Array.fromAsync(
      kv.list<Uint8Array>({ prefix: ["blob", meta.sha256, "part"] }),
    );
    assert.equal(chunkEntries.length, meta.chunks);
    assert.ok(chunkEntries.every((e) => e.value.length <= 64 * 1024));

    const back = await store.get(meta.sha256);
    assert.ok(back);
    assert.equal(back.length, bytes.length);
    assert.deepEqual(back, bytes);
    assert.equal(await sha256Hex(back), meta.sha256);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: the same content stored twice gives the same sha and meta", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const a = await store.put(encoder.encode("same content"));
    const metaEntry = await kv.get(["blob", a.sha256, "meta"]);
    const b = await store.put(encoder.encode("same content"));
    assert.deepEqual(b, a);
    // The second put found the blob and wrote nothing.
    const again = await kv.get(["blob", a.sha256, "meta"]);
    assert.equal(again.versionstamp, metaEntry.versionstamp);

    const c = await store.put(encoder.encode("other content"));
    assert.notEqual(c.sha256, a.sha256);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: unknown sha gives null", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const unknown = await sha256Hex(encoder.encode("never stored"));
    assert.equal(await store.get(unknown), null);
    assert.equal(await store.meta(unknown), null);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: a custom prefix keeps stores apart", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const a = new BlobStore(kv, ["a"]);
    const b = new BlobStore(kv, ["b"]);
    const meta = await a.put(encoder.encode("only in a"));
    assert.deepEqual(await a.get(meta.sha256), encoder.encode("only in a"));
    assert.equal(await b.get(meta.sha256), null);
  } finally {
    kv.close();
  }
});

async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  return (await Array.fromAsync(kv.list({ prefix }))).length;
}

Deno.test("BlobStore: staged bytes are invisible until published, and publishing goes in the caller's atomic", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const bytes = pseudoRandomBytes(700 * 1024, 3);
    const staged = await store.stage(bytes);
    assert.equal(await store.meta(staged.meta.sha256), null);
    assert.equal(await store.get(staged.meta.sha256), null);
    const res = await staged.publish(kv.atomic()).set(["name"], "x").commit();
    assert.ok(res.ok);
    assert.deepEqual(await store.get(staged.meta.sha256), bytes);
    assert.equal(await keysUnder(kv, ["blobupload"]), 0);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: collectAbandoned removes an upload that stopped writing for the grace period, never one under way", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 0;
    const store = new BlobStore(kv, ["blob"], { now: () => now });
    // A crash after the chunks: staged, never published nor discarded.
    const dead = await store.stage(pseudoRandomBytes(1024 * 1024, 5));
    assert.ok(await keysUnder(kv, ["blob", dead.meta.sha256]) > 10);
    now = 59_000;
    assert.deepEqual(await store.collectAbandoned(60_000), {
      uploads: 0,
      headless: 0,
    });
    // An upload under way touches its marker with every write.
    const alive = await store.stage(pseudoRandomBytes(100 * 1024, 6));
    now = 60_000;
    assert.deepEqual(await store.collectAbandoned(60_000), {
      uploads: 1,
      headless: 0,
    });
    assert.equal(await keysUnder(kv, ["blob", dead.meta.sha256]), 0);
    assert.ok((await alive.publish(kv.atomic()).commit()).ok);
    assert.ok(await store.get(alive.meta.sha256));
    // Attack: the dead upload wakes up after it was collected: it cannot
    // publish a blob whose chunks are gone.
    assert.equal((await dead.publish(kv.atomic()).commit()).ok, false);
    assert.equal(await store.meta(dead.meta.sha256), null);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: chunks of the old layout that no metadata names are collected once seen twice a grace period apart", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 0;
    const store = new BlobStore(kv, ["blob"], { now: () => now });
    const kept = await store.put(encoder.encode("kept"));
    // Written by an older version killed midway: chunks, no metadata.
    await kv.set(["blob", "ab".repeat(32), "chunk", 0], new Uint8Array(10));
    await kv.set(["blob", "ab".repeat(32), "chunk", 1], new Uint8Array(10));
    assert.equal((await store.collectAbandoned(1000)).headless, 0);
    now = 999;
    assert.equal((await store.collectAbandoned(1000)).headless, 0);
    now = 1000;
    assert.equal((await store.collectAbandoned(1000)).headless, 1);
    assert.equal(await keysUnder(kv, ["blob", "ab".repeat(32)]), 0);
    assert.deepEqual(await store.get(kept.sha256), encoder.encode("kept"));
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: two uploads of the same bytes: one publishes, the other discards its own chunks only", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const bytes = pseudoRandomBytes(200 * 1024, 9);
    const [a, b] = [await store.stage(bytes), await store.stage(bytes)];
    assert.ok((await a.publish(kv.atomic()).commit()).ok);
    assert.equal((await b.publish(kv.atomic()).commit()).ok, false);
    await b.discard();
    assert.deepEqual(await store.get(a.meta.sha256), bytes);
    // Only a's chunks remain, and no marker.
    assert.equal(
      await keysUnder(kv, ["blob", a.meta.sha256, "part"]),
      a.meta.chunks,
    );
    assert.equal(await keysUnder(kv, ["blobupload"]), 0);
    await store.delete(a.meta.sha256);
    assert.equal(await keysUnder(kv, ["blob", a.meta.sha256]), 0);
  } finally {
    kv.close();
  }
});
