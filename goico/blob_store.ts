/**
 * Content-addressed byte storage on Deno KV. A KV value holds at most
 * 64 KiB and an atomic write 800 KiB, so a blob is written in chunks over
 * several atomics, and made visible at once by its metadata entry:
 *
 *   [...prefix, sha, "meta"]                -> metadata, naming its upload
 *   [...prefix, sha, "part", upload, i]     -> chunk i of that upload
 *   [...prefix, sha, "chunk", i]            -> chunk i (blobs stored before uploads had ids)
 *   [...uploads, upload]                    -> an upload under way: sha, touchedAt
 *
 * An upload writes its chunks under its own id, with a marker it touches
 * in every atomic; it becomes visible when its metadata is written, which
 * can go in the caller's own atomic (`stage` then `publish`: a file's name
 * and its bytes appear in one write). A process killed midway leaves
 * chunks nobody sees: `collectAbandoned` removes the chunks of uploads
 * whose marker was not touched for a grace period (so never those of an
 * upload under way in another process), and chunks of the old layout that
 * no metadata names.
 */

import { deletePrefixes } from "./delete_prefixes.ts";

const CHUNK = 60 * 1024;
const CHUNKS_PER_ATOMIC = 10;

export interface BlobMeta {
  sha256: string;
  size: number;
  chunks: number;
}

/** The stored metadata: which upload's chunks hold the bytes (none: the old layout). */
interface StoredMeta extends BlobMeta {
  upload?: string;
}

interface UploadMarker {
  sha256: string;
  startedAt: number;
  touchedAt: number;
  /** Set when a collector took it: its chunks are being removed. */
  collecting?: true;
}

/** Bytes written and not yet visible; `publish` makes them visible. */
export interface StagedBlob {
  meta: BlobMeta;
  /**
   * Adds to an atomic operation the writes that make the blob visible (and
   * the checks that it still can be: not collected, not deleted). When
   * that atomic is refused, `discard` and stage again.
   */
  publish(op: Deno.AtomicOperation): Deno.AtomicOperation;
  /** Removes the chunks of an upload that will not be published. */
  discard(): Promise<void>;
}

export interface BlobStoreOptions {
  /** Where the markers of uploads under way live. Default `["blobupload"]`. */
  uploads?: Deno.KvKey;
  now?: () => number;
}

/** What `collectAbandoned` removed. */
export interface Collected {
  /** Abandoned uploads whose chunks were removed. */
  uploads: number;
  /** Blobs of the old layout whose chunks no metadata named. */
  headless: number;
}

/** Hex sha-256 of bytes. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

export class BlobStore {
  readonly #uploads: Deno.KvKey;
  readonly #now: () => number;
  /** Headless old-layout blobs seen by the collector, and when first. */
  readonly #headless = new Map<string, number>();

  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["blob"],
    options: BlobStoreOptions = {},
  ) {
    this.#uploads = options.uploads ?? ["blobupload"];
    this.#now = options.now ?? Date.now;
  }

  #metaKey(sha: string): Deno.KvKey {
    return [...this.prefix, sha, "meta"];
  }
  #partKey(sha: string, upload: string, i: number): Deno.KvKey {
    return [...this.prefix, sha, "part", upload, i];
  }
  #chunksOf(meta: StoredMeta): Deno.KvKey {
    return meta.upload === undefined
      ? [...this.prefix, meta.sha256, "chunk"]
      : [...this.prefix, meta.sha256, "part", meta.upload];
  }
  #markerKey(upload: string): Deno.KvKey {
    return [...this.#uploads, upload];
  }

  /**
   * Writes the bytes' chunks (unless the same content is stored already)
   * without making them visible; see `StagedBlob`.
   */
  async stage(bytes: Uint8Array): Promise<StagedBlob> {
    const sha256 = await sha256Hex(bytes);
    const existing = await this.kv.get<StoredMeta>(this.#metaKey(sha256));
    if (existing.value) {
      return {
        meta: publicMeta(existing.value),
        // Still there when the caller's write commits (not deleted meanwhile).
        publish: (op) => op.check(existing),
        discard: () => Promise.resolve(),
      };
    }
    const upload = crypto.randomUUID();
    const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK));
    const marker = this.#markerKey(upload);
    const startedAt = this.#now();
    let stamp = "";
    for (let start = 0; start < chunks; start += CHUNKS_PER_ATOMIC) {
      // The marker first, touched in every atomic: an upload under way is
      // never taken for an abandoned one.
      const op = this.kv.atomic().set(
        marker,
        {
          sha256,
          startedAt,
          touchedAt: this.#now(),
        } satisfies UploadMarker,
      );
      for (
        let i = start;
        i < Math.min(chunks, start + CHUNKS_PER_ATOMIC);
        i++
      ) {
        op.set(
          this.#partKey(sha256, upload, i),
          bytes.slice(i * CHUNK, (i + 1) * CHUNK),
        );
      }
      const res = await op.commit();
      if (!res.ok) throw new Error(`Storing blob "${sha256}" failed`);
      stamp = res.versionstamp;
    }
    const meta: StoredMeta = { sha256, size: bytes.length, chunks, upload };
    return {
      meta: publicMeta(meta),
      publish: (op) =>
        op
          // Not collected meanwhile (a collector changes the marker first),
          // and no other upload of the same bytes published first.
          .check({ key: marker, versionstamp: stamp })
          .check({ key: this.#metaKey(sha256), versionstamp: null })
          .set(this.#metaKey(sha256), meta)
          .delete(marker),
      discard: async () => {
        await deletePrefixes(this.kv, [
          [...this.prefix, sha256, "part", upload],
        ]);
        await this.kv.delete(marker);
      },
    };
  }

  /** Stores bytes (once per content) and returns their metadata. */
  async put(bytes: Uint8Array): Promise<BlobMeta> {
    for (let tries = 0; tries < 3; tries++) {
      const staged = await this.stage(bytes);
      if ((await staged.publish(this.kv.atomic()).commit()).ok) {
        return staged.meta;
      }
      await staged.discard();
    }
    throw new Error("Storing a blob failed: it changed concurrently 3 times");
  }

  /**
   * Removes a blob: its metadata first, so it is never seen half gone,
   * then its chunks (not those of another upload of the same bytes under
   * way). Safe to run again.
   */
  async delete(sha256: string): Promise<void> {
    const meta = (await this.kv.get<StoredMeta>(this.#metaKey(sha256)))
      .value;
    if (meta) await this.kv.delete(this.#metaKey(sha256));
    await deletePrefixes(this.kv, [
      [...this.prefix, sha256, "chunk"],
      ...(meta?.upload !== undefined ? [this.#chunksOf(meta)] : []),
    ]);
  }

  /** The blob's metadata, or null when it is not stored. */
  async meta(sha256: string): Promise<BlobMeta | null> {
    const meta = (await this.kv.get<StoredMeta>(this.#metaKey(sha256))).value;
    return meta && publicMeta(meta);
  }

  /** The blob's bytes, or null when it is not stored. */
  async get(sha256: string): Promise<Uint8Array | null> {
    const meta = (await this.kv.get<StoredMeta>(this.#metaKey(sha256))).value;
    if (!meta) return null;
    const out = new Uint8Array(meta.size);
    let offset = 0;
    for await (
      const entry of this.kv.list<Uint8Array>({ prefix: this.#chunksOf(meta) })
    ) {
      out.set(entry.value, offset);
      offset += entry.value.length;
    }
    if (offset !== meta.size) throw new Error(`Blob "${sha256}" is incomplete`);
    return out;
  }

  /**
   * Removes what crashed uploads left: the chunks of uploads whose marker
   * was not touched for `graceMs` (an upload under way touches it with
   * every write, so it is never collected while it writes), and chunks of
   * the old layout that no metadata names, once seen by this store twice
   * `graceMs` apart. Safe to run in several processes at once, and again
   * after a crash midway.
   */
  async collectAbandoned(graceMs: number): Promise<Collected> {
    const now = this.#now();
    let uploads = 0;
    for await (
      const e of this.kv.list<UploadMarker>({ prefix: this.#uploads })
    ) {
      if (!e.value.collecting && now - e.value.touchedAt < graceMs) continue;
      // Take it first: its upload, if it wakes up, can no longer publish.
      let entry: Deno.KvEntryMaybe<UploadMarker> = e;
      if (!e.value.collecting) {
        const taken = { ...e.value, collecting: true as const };
        const res = await this.kv.atomic().check(e).set(e.key, taken).commit();
        if (!res.ok) continue; // touched meanwhile: alive
        entry = { ...e, value: taken, versionstamp: res.versionstamp };
      }
      const upload = e.key[e.key.length - 1] as string;
      await deletePrefixes(this.kv, [
        [...this.prefix, e.value.sha256, "part", upload],
      ]);
      if ((await this.kv.atomic().check(entry).delete(e.key).commit()).ok) {
        uploads++;
      }
    }
    return { uploads, headless: await this.#collectHeadless(now, graceMs) };
  }

  /** Old-layout chunks without metadata, seen twice `graceMs` apart. */
  async #collectHeadless(now: number, graceMs: number): Promise<number> {
    let removed = 0;
    const seen = new Set<string>();
    // One read per blob: the first key of each sha, then skip past it.
    let start: Deno.KvKey | undefined;
    for (;;) {
      const [first] = await Array.fromAsync(
        this.kv.list(
          start ? { prefix: this.prefix, start } : { prefix: this.prefix },
          { limit: 1 },
        ),
      );
      if (!first) break;
      const sha = first.key[this.prefix.length] as string;
      start = [...this.prefix, sha + "\u0000"];
      if (first.key[this.prefix.length + 1] !== "chunk") continue;
      if ((await this.kv.get(this.#metaKey(sha))).versionstamp !== null) {
        continue;
      }
      seen.add(sha);
      const since = this.#headless.get(sha);
      if (since === undefined) this.#headless.set(sha, now);
      else if (now - since >= graceMs) {
        await deletePrefixes(this.kv, [[...this.prefix, sha, "chunk"]]);
        this.#headless.delete(sha);
        removed++;
      }
    }
    for (const sha of this.#headless.keys()) {
      if (!seen.has(sha)) this.#headless.delete(sha);
    }
    return removed;
  }
}

function publicMeta(meta: StoredMeta): BlobMeta {
  return { sha256: meta.sha256, size: meta.size, chunks: meta.chunks };
}
