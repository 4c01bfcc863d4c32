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
      kv.list<Uint8Array>({ prefix: ["blob", meta.sha256, "chunk"] }),
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

Deno.test("BlobStore.collect: an unused blob goes entirely; a used one stays", async () => {
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
    const left = await Array.fromAsync(
      kv.list({ prefix: ["blob", meta.sha256, "chunk"] }),
    );
    assert.equal(left.length, 0);
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

Deno.test("BlobStore.claim: a claim committed while a collection decides wins; a claim after it is refused", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new BlobStore(kv);
    const bytes = encoder.encode("claimed while collected");
    const stored = await store.store(bytes);
    // Someone makes it reachable while the collector asks whether it is used.
    const collected = await store.collect(stored.meta.sha256, async () => {
      const op = kv.atomic().set(["ref"], stored.meta.sha256);
      assert.ok((await store.claim(op, stored).commit()).ok);
      return false;
    });
    assert.equal(collected, false);
    assert.deepEqual(await store.get(stored.meta.sha256), bytes);

    // Collected first: a claim with what `store` answered before is refused.
    const before = await store.store(bytes);
    assert.equal(
      await store.collect(before.meta.sha256, () => Promise.resolve(false)),
      true,
    );
    const op = kv.atomic().set(["ref"], before.meta.sha256);
    assert.equal((await store.claim(op, before).commit()).ok, false);
    // Storing again gives a blob the claim holds.
    const again = await store.store(bytes);
    assert.ok((await store.claim(kv.atomic(), again).commit()).ok);
    assert.deepEqual(await store.get(again.meta.sha256), bytes);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore.store: a store writing chunks while the same content is stored and collected writes them again", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // 700 KiB: 12 chunks, written in two atomics.
    const bytes = pseudoRandomBytes(700 * 1024, 9);
    let open!: () => void;
    const gate = new Promise<void>((r) => open = r);
    let reached!: () => void;
    const atSecond = new Promise<void>((r) => reached = r);
    // The slow writer stops before its second atomic of chunks.
    const slow = new BlobStore(holdingKv(kv, 2, gate, reached));
    const writing = slow.store(bytes);
    await atSecond;
    // Meanwhile the content is stored by another and collected: the
    // collection removes the chunks the slow writer already wrote.
    const other = new BlobStore(kv);
    const meta = await other.put(bytes);
    assert.equal(
      await other.collect(meta.sha256, () => Promise.resolve(false)),
      true,
    );
    open();
    const stored = await writing;
    assert.equal(stored.meta.sha256, meta.sha256);
    // Every chunk is there: the writer saw the collection and wrote again.
    assert.deepEqual(await other.get(meta.sha256), bytes);
  } finally {
    kv.close();
  }
});

Deno.test("BlobStore.store: a store of content being collected waits for the collection, then stores it whole", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const bytes = pseudoRandomBytes(700 * 1024, 11);
    const store = new BlobStore(kv);
    const meta = await store.put(bytes);
    // The collector stops after it removed the metadata, before the chunks.
    let open!: () => void;
    const gate = new Promise<void>((r) => open = r);
    let reached!: () => void;
    const held = new Promise<void>((r) => reached = r);
    // Its commits: the removal of the metadata (1), the hold (2), chunks (3).
    const collector = new BlobStore(holdingKv(kv, 3, gate, reached));
    const collecting = collector.collect(
      meta.sha256,
      () => Promise.resolve(false),
    );
    await held;
    const storing = store.store(bytes);
    await new Promise((r) => setTimeout(r, 50));
    open();
    assert.equal(await collecting, true);
    await storing;
    assert.deepEqual(await store.get(meta.sha256), bytes);
  } finally {
    kv.close();
  }
});
