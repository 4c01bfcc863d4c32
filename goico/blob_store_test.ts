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

/** The KV, with the `n`th commit of an atomic held until `gate` opens. */
function holdingKv(
  kv: Deno.Kv,
  n: number,
  gate: Promise<void>,
  reached: () => void,
): Deno.Kv {
  let commits = 0;
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = async () => {
            if (++commits === n) {
              reached();
              await gate;
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
}

/** A gate: `open` releases what `held` announced. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => open = r);
  let reached!: () => void;
  const held = new Promise<void>((r) => reached = r);
  return { open, opened, reached, held };
}

Deno.test("BlobStore.collect: an unused blob goes entirely, chunks and all; a used one stays", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const bytes = pseudoRandomBytes(700 * 1024, 7);
    const meta = await store.put(bytes);
    assert.equal(
      await store.collect(meta.sha256, () => Promise.resolve(true)),
      false,
    );
    assert.deepEqual(await store.get(meta.sha256), bytes);
    assert.equal(
      await store.collect(meta.sha256, () => Promise.resolve(false)),
      true,
    );
    assert.equal(await store.meta(meta.sha256), null);
    assert.equal(await keysUnder(kv, ["blob", meta.sha256]), 0);
    assert.equal(await keysUnder(kv, ["blobupload"]), 0);
    // Collecting what is gone is a no-op; storing it again works.
    assert.equal(
      await store.collect(meta.sha256, () => Promise.resolve(false)),
      false,
    );
    assert.deepEqual(await store.get((await store.put(bytes)).sha256), bytes);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore.collect: a blob of the old layout goes with its chunks", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const sha = "cd".repeat(32);
    await kv.set(["blob", sha, "chunk", 0], new Uint8Array(3));
    await kv.set(["blob", sha, "meta"], { sha256: sha, size: 3, chunks: 1 });
    assert.deepEqual(await store.get(sha), new Uint8Array(3));
    assert.equal(await store.collect(sha, () => Promise.resolve(false)), true);
    assert.equal(await keysUnder(kv, ["blob", sha]), 0);
    assert.equal(await keysUnder(kv, ["blobupload"]), 0);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: a publish of stored content while a collection decides wins; one staged before the collection is refused and stages again", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const bytes = encoder.encode("published while collected");
    await store.put(bytes);
    const staged = await store.stage(bytes);
    // Someone makes it reachable while the collector asks whether it is used.
    const collected = await store.collect(staged.meta.sha256, async () => {
      const op = staged.publish(kv.atomic()).set(["ref"], "x");
      assert.ok((await op.commit()).ok);
      return false;
    });
    assert.equal(collected, false);
    assert.deepEqual(await store.get(staged.meta.sha256), bytes);

    // Collected first: a publish with what `stage` answered before is refused.
    const before = await store.stage(bytes);
    assert.equal(
      await store.collect(before.meta.sha256, () => Promise.resolve(false)),
      true,
    );
    assert.equal(await before.publishable(), false);
    assert.equal((await before.publish(kv.atomic()).commit()).ok, false);
    // Staging again gives a blob that publishes whole.
    const again = await store.stage(bytes);
    assert.ok(await again.publishable());
    assert.ok((await again.publish(kv.atomic()).commit()).ok);
    assert.deepEqual(await store.get(again.meta.sha256), bytes);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: collecting published content never touches the chunks of an upload of the same bytes under way", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // 700 KiB: 12 chunks, written in two atomics.
    const bytes = pseudoRandomBytes(700 * 1024, 9);
    const g = gate();
    // The slow upload stops before its second atomic of chunks.
    const slow = new BlobStore(holdingKv(kv, 2, g.opened, g.reached));
    const uploading = slow.stage(bytes);
    await g.held;
    // Meanwhile the content is published by another upload and collected.
    const other = new BlobStore(kv);
    const meta = await other.put(bytes);
    assert.equal(
      await other.collect(meta.sha256, () => Promise.resolve(false)),
      true,
    );
    // And abandoned uploads are collected: the slow one touched its marker.
    assert.equal((await other.collectAbandoned(60_000)).uploads, 0);
    g.open();
    const staged = await uploading;
    assert.ok(await staged.publishable());
    assert.ok((await staged.publish(kv.atomic()).commit()).ok);
    // Every chunk of the slow upload is there.
    assert.deepEqual(await other.get(meta.sha256), bytes);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: an upload that stalls past the grace period and is collected fails at its next write, leaving nothing", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let now = 0;
    const bytes = pseudoRandomBytes(700 * 1024, 13);
    const g = gate();
    const slow = new BlobStore(holdingKv(kv, 2, g.opened, g.reached), [
      "blob",
    ], { now: () => now });
    const uploading = slow.stage(bytes);
    await g.held;
    now = 60_000;
    const collector = new BlobStore(kv, ["blob"], { now: () => now });
    assert.equal((await collector.collectAbandoned(60_000)).uploads, 1);
    g.open();
    await assert.rejects(uploading, /stalled past the grace period/);
    assert.equal(await keysUnder(kv, ["blob"]), 0);
    assert.equal(await keysUnder(kv, ["blobupload"]), 0);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore: a collection cut short by a crash is finished by collectAbandoned, and the content can be stored again meanwhile", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const bytes = pseudoRandomBytes(700 * 1024, 11);
    const store = new BlobStore(kv);
    const meta = await store.put(bytes);
    // The collector stops after it removed the metadata (its first commit),
    // before its chunks go (the second): as if it had died there.
    const g = gate();
    const dying = new BlobStore(holdingKv(kv, 2, g.opened, g.reached));
    const collecting = dying.collect(
      meta.sha256,
      () => Promise.resolve(false),
    );
    await g.held;
    assert.equal(await store.meta(meta.sha256), null);
    assert.equal(await keysUnder(kv, ["blobupload"]), 1);
    // Stored again meanwhile: under a new upload, untouched by what follows.
    const again = await store.put(bytes);
    assert.equal(again.sha256, meta.sha256);
    // Any process finishes the collection, whatever the grace period.
    assert.deepEqual(await store.collectAbandoned(60 * 60_000), {
      uploads: 1,
      headless: 0,
    });
    assert.equal(await keysUnder(kv, ["blobupload"]), 0);
    assert.deepEqual(await store.get(meta.sha256), bytes);
    assert.equal(
      await keysUnder(kv, ["blob", meta.sha256, "part"]),
      meta.chunks,
    );
    // The dying collector wakes up: it removes nothing more.
    g.open();
    assert.equal(await collecting, true);
    assert.deepEqual(await store.get(meta.sha256), bytes);
  } finally {
    kv.close();
  }
});
