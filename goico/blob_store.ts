/**
 * Content-addressed byte storage on Deno KV. A KV value holds at most
 * 64 KiB and an atomic write 800 KiB, so a blob is written in chunks over
 * several atomics, and made visible at once by its metadata entry:
 *
 *   [...prefix, sha, "meta"]                -> metadata, naming its upload
 *   [...prefix, sha, "part", upload, i]     -> chunk i of that upload
 *   [...prefix, sha, "chunk", i]            -> chunk i (blobs stored before uploads had ids)
 *   [...uploads, upload]                    -> a marker: an upload under way, or chunks being removed
 *
 * An upload writes its chunks under its own id, with a marker it touches
 * in every atomic; it becomes visible when its metadata is written, which
 * can go in the caller's own atomic (`stage` then `publish`: a file's name
 * and its bytes appear in one write).
 *
 * Chunks are removed in one way only: a marker names them, and whoever
 * removes them holds the marker taken (`collecting`) until they are gone.
 * A marker is taken in two cases:
 * - `collectAbandoned`: an upload that did not touch its marker for a
 *   grace period (a crash). Its `publish` checks the marker, so once it is
 *   taken the upload can never become visible.
 * - `collect`: a blob nobody uses (the caller says who uses it). Its
 *   metadata goes in the atomic that writes its marker, already taken, and
 *   only if the metadata was not touched since it was read: a `publish` of
 *   the same content touches it, so a use that became visible while the
 *   caller was asking makes the collection fail.
 * So the chunks of an upload under way (under its own id, which no
 * metadata names yet) are never those a collection removes, and the chunks
 * a metadata names (their marker went with the publish) are never those of
 * an abandoned upload. A crash while chunks are removed leaves the taken
 * marker, which the next `collectAbandoned` finishes.
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
  /** The chunks are those of the old layout (a blob collected that had no upload id). */
  oldLayout?: true;
}

/** Bytes written and not yet visible; `publish` makes them visible. */
export interface StagedBlob {
  meta: BlobMeta;
  /**
   * Adds to an atomic operation the writes that make the blob visible (and
   * the checks that it still can be: not collected, not deleted, and, for
   * content stored already, a write that makes a collection deciding
   * meanwhile fail). When that atomic is refused and `publishable` says
   * no, `discard` and stage again.
   */
  publish(op: Deno.AtomicOperation): Deno.AtomicOperation;
  /**
   * Whether `publish` can still succeed as far as the blob goes (an atomic
   * refused for the caller's own checks can be tried again with it).
   */
  publishable(): Promise<boolean>;
  /** Removes the chunks of an upload that will not be published. */
  discard(): Promise<void>;
}

/**
 * Where a {@linkcode BlobStore} keeps its uploads, and its clock.
 *
 * @example
 * ```ts
 * const blobs = new BlobStore(kv, ["blob"], { uploads: ["blobupload"] });
 * ```
 */
export interface BlobStoreOptions {
  /**
   * Where the markers of uploads under way live.
   *
   * @default {["blobupload"]}
   */
  uploads?: Deno.KvKey;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

/** What `collectAbandoned` removed. */
export interface Collected {
  /** Abandoned uploads (and collections a crash cut short) whose chunks were removed. */
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
      const stored = existing.value;
      return {
        meta: publicMeta(stored),
        // Still there when the caller's write commits (not collected
        // meanwhile), and touched: a collection that read it before this
        // commit, and decided it was unused, fails.
        publish: (op) => op.check(existing).set(existing.key, stored),
        publishable: async () =>
          (await this.kv.get(existing.key)).versionstamp ===
            existing.versionstamp,
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
      // never taken for an abandoned one; and checked, so one that stalled
      // past the grace period and was taken stops here.
      const op = this.kv.atomic().check({
        key: marker,
        versionstamp: stamp === "" ? null : stamp,
      }).set(
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
      if (!res.ok) {
        throw new Error(
          `Storing blob "${sha256}" failed: the upload stalled past the grace period and its chunks were collected`,
        );
      }
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
      publishable: async () => {
        const [m, published] = await this.kv.getMany([
          marker,
          this.#metaKey(sha256),
        ]);
        return m.versionstamp === stamp && published.versionstamp === null;
      },
      discard: async () => {
        await deletePrefixes(this.kv, [
          [...this.prefix, sha256, "part", upload],
        ]);
        await this.kv.delete(marker);
      },
    };
  }

  /**
   * Stores bytes (once per content) and returns their metadata. Content
   * stored already is left as it is (nothing written): the caller makes
   * nothing reachable in the same write, so use `stage` and `publish` for
   * a reference a concurrent `collect` must see.
   */
  async put(bytes: Uint8Array): Promise<BlobMeta> {
    for (let tries = 0; tries < 3; tries++) {
      const sha256 = await sha256Hex(bytes);
      const existing = await this.meta(sha256);
      if (existing) return existing;
      const staged = await this.stage(bytes);
      if ((await staged.publish(this.kv.atomic()).commit()).ok) {
        return staged.meta;
      }
      await staged.discard();
    }
    throw new Error("Storing a blob failed: it changed concurrently 3 times");
  }

  /**
   * Removes a blob if `inUse` says nobody uses it and no `publish` of the
   * same content commits while that is asked. Returns whether it was
   * removed. Its metadata goes first, so it is never seen half gone.
   */
  async collect(
    sha256: string,
    inUse: () => Promise<boolean>,
  ): Promise<boolean> {
    const meta = await this.kv.get<StoredMeta>(this.#metaKey(sha256));
    if (!meta.value || await inUse()) return false;
    const now = this.#now();
    const marker: UploadMarker = {
      sha256,
      startedAt: now,
      touchedAt: now,
      collecting: true,
      ...(meta.value.upload === undefined && { oldLayout: true as const }),
    };
    const key = this.#markerKey(meta.value.upload ?? crypto.randomUUID());
    const res = await this.kv.atomic().check(meta)
      .check({ key, versionstamp: null })
      .delete(meta.key)
      .set(key, marker)
      .commit();
    if (!res.ok) return false;
    await this.#removeChunks({
      key,
      value: marker,
      versionstamp: res.versionstamp,
    });
    return true;
  }

  /**
   * Removes a blob whoever uses it (a use published meanwhile is removed
   * with it). Safe to run again.
   */
  async delete(sha256: string): Promise<void> {
    while (await this.kv.get(this.#metaKey(sha256)).then((e) => e.value)) {
      await this.collect(sha256, () => Promise.resolve(false));
    }
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
   * every write, so it is never collected while it writes), the chunks of
   * collections a crash cut short, and chunks of the old layout that no
   * metadata names, once seen by this store twice `graceMs` apart. Safe to
   * run in several processes at once, and again after a crash midway.
   */
  async collectAbandoned(graceMs: number): Promise<Collected> {
    const now = this.#now();
    let uploads = 0;
    for await (
      const e of this.kv.list<UploadMarker>({ prefix: this.#uploads })
    ) {
      if (!e.value.collecting && now - e.value.touchedAt < graceMs) continue;
      // Take it first: its upload, if it wakes up, can no longer publish.
      let entry: Deno.KvEntry<UploadMarker> = e;
      if (!e.value.collecting) {
        const taken = { ...e.value, collecting: true as const };
        const res = await this.kv.atomic().check(e).set(e.key, taken).commit();
        if (!res.ok) continue; // touched meanwhile: alive
        entry = { ...e, value: taken, versionstamp: res.versionstamp };
      }
      if (await this.#removeChunks(entry)) uploads++;
    }
    return { uploads, headless: await this.#collectHeadless(now, graceMs) };
  }

  /**
   * Removes the chunks a taken marker names, then the marker (unless
   * another collector did). Returns whether this call removed the marker.
   */
  async #removeChunks(marker: Deno.KvEntry<UploadMarker>): Promise<boolean> {
    const { sha256, oldLayout } = marker.value;
    const upload = marker.key[marker.key.length - 1] as string;
    await deletePrefixes(this.kv, [
      oldLayout
        ? [...this.prefix, sha256, "chunk"]
        : [...this.prefix, sha256, "part", upload],
    ]);
    return (await this.kv.atomic().check(marker).delete(marker.key).commit())
      .ok;
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
