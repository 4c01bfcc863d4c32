/**
 * Content-addressed byte storage on Deno KV. A KV value holds at most
 * 64 KiB and an atomic write 800 KiB, so blobs are split into chunks written
 * in several atomics; the metadata entry is written last, so a blob is
 * visible only once every chunk is stored.
 *
 * A blob nobody uses any more can be collected (`collect`): its metadata
 * goes first, in an atomic that checks it was not touched since the caller
 * decided it was unused (`claim` touches it), and a marker under the blob
 * fences writers while its chunks go. A `store` of the same content waits
 * for the collection to end, and one that was writing chunks when it began
 * finds the marker changed at its last write and writes them again.
 */

import { deletePrefixes } from "./delete_prefixes.ts";

const CHUNK = 60 * 1024;
const CHUNKS_PER_ATOMIC = 10;

export interface BlobMeta {
  sha256: string;
  size: number;
  chunks: number;
}

/** A stored blob and the versionstamp of its metadata (see `claim`). */
export interface StoredBlob {
  meta: BlobMeta;
  versionstamp: string;
}

/** What `collect` leaves under a blob while (and a while after) it removes it. */
interface Collecting {
  /** The collection is over; else it holds until `until` (ms since the epoch). */
  done?: boolean;
  until?: number;
}

/** How long a collector holds a blob before another may finish its work. */
const COLLECT_HOLD_MS = 5 * 60_000;
/**
 * How long the marker of a finished collection stays: longer than any store
 * takes to write its chunks, so one that began before sees it changed.
 */
const COLLECTED_MARK_MS = 60 * 60_000;

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
  readonly #now: () => number;
  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["blob"],
    options: { now?: () => number } = {},
  ) {
    this.#now = options.now ?? Date.now;
  }

  #metaKey(sha: string): Deno.KvKey {
    return [...this.prefix, sha, "meta"];
  }
  #chunkKey(sha: string, i: number): Deno.KvKey {
    return [...this.prefix, sha, "chunk", i];
  }
  #collectKey(sha: string): Deno.KvKey {
    return [...this.prefix, sha, "collect"];
  }

  /** Stores bytes (once per content) and returns their metadata. */
  async put(bytes: Uint8Array): Promise<BlobMeta> {
    return (await this.store(bytes)).meta;
  }

  /**
   * Stores bytes (once per content) and returns their metadata with its
   * versionstamp, for a caller that will `claim` the blob in the atomic
   * that makes it reachable.
   */
  async store(bytes: Uint8Array): Promise<StoredBlob> {
    const sha256 = await sha256Hex(bytes);
    for (let round = 0;; round++) {
      const [existing, mark] = await this.kv.getMany<[BlobMeta, Collecting]>([
        this.#metaKey(sha256),
        this.#collectKey(sha256),
      ]);
      if (existing.value) {
        return { meta: existing.value, versionstamp: existing.versionstamp! };
      }
      if (mark.value && !mark.value.done) {
        if ((mark.value.until ?? 0) > this.#now()) {
          // Being collected: wait for its chunks to be gone.
          await new Promise((r) => setTimeout(r, Math.min(200, 10 * round)));
          continue;
        }
        await this.#finishCollect(sha256, mark);
        continue;
      }
      const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK));
      for (let start = 0; start < chunks; start += CHUNKS_PER_ATOMIC) {
        const op = this.kv.atomic();
        for (
          let i = start;
          i < Math.min(chunks, start + CHUNKS_PER_ATOMIC);
          i++
        ) {
          op.set(
            this.#chunkKey(sha256, i),
            bytes.slice(i * CHUNK, (i + 1) * CHUNK),
          );
        }
        const res = await op.commit();
        if (!res.ok) throw new Error(`Storing blob "${sha256}" failed`);
      }
      const meta: BlobMeta = { sha256, size: bytes.length, chunks };
      // Only if no collection began while the chunks were written (it may
      // have removed some of them), and nobody stored it meanwhile.
      const res = await this.kv.atomic()
        .check({ key: this.#metaKey(sha256), versionstamp: null })
        .check(mark)
        .set(this.#metaKey(sha256), meta)
        .commit();
      if (res.ok) return { meta, versionstamp: res.versionstamp };
    }
  }

  /**
   * Adds to an atomic operation a check that the blob is still the one
   * `store` answered, and a write that touches its metadata, so that a
   * `collect` that decided before this commit that the blob was unused
   * fails. A commit refused on this check means the blob was collected:
   * store it again.
   */
  claim(op: Deno.AtomicOperation, stored: StoredBlob): Deno.AtomicOperation {
    const key = this.#metaKey(stored.meta.sha256);
    return op.check({ key, versionstamp: stored.versionstamp })
      .set(key, stored.meta);
  }

  /**
   * Removes a blob if `inUse` says nobody uses it and nothing claims it
   * while that is asked. Returns whether it was removed.
   */
  async collect(
    sha256: string,
    inUse: () => Promise<boolean>,
  ): Promise<boolean> {
    const meta = await this.kv.get<BlobMeta>(this.#metaKey(sha256));
    if (!meta.value || await inUse()) return false;
    const hold: Collecting = { until: this.#now() + COLLECT_HOLD_MS };
    const res = await this.kv.atomic().check(meta)
      .delete(meta.key)
      .set(this.#collectKey(sha256), hold)
      .commit();
    if (!res.ok) return false;
    await this.#finishCollect(sha256, {
      key: this.#collectKey(sha256),
      value: hold,
      versionstamp: res.versionstamp,
    });
    return true;
  }

  /** Removes the chunks of a blob being collected, then marks it done. */
  async #finishCollect(
    sha256: string,
    mark: Deno.KvEntryMaybe<Collecting>,
  ): Promise<void> {
    // Take it over (a collector that died), or keep holding it.
    const hold = await this.kv.atomic().check(mark)
      .set(mark.key, { until: this.#now() + COLLECT_HOLD_MS })
      .commit();
    if (!hold.ok) return;
    await deletePrefixes(this.kv, [[...this.prefix, sha256, "chunk"]]);
    await this.kv.set(mark.key, { done: true } satisfies Collecting, {
      expireIn: COLLECTED_MARK_MS,
    });
  }

  /** Removes a blob: its metadata first, so it is never seen half gone. */
  async delete(sha256: string): Promise<void> {
    await deletePrefixes(this.kv, [this.#metaKey(sha256), [
      ...this.prefix,
      sha256,
    ]]);
  }

  /** The blob's metadata, or null when it is not stored. */
  async meta(sha256: string): Promise<BlobMeta | null> {
    return (await this.kv.get<BlobMeta>(this.#metaKey(sha256))).value;
  }

  /** The blob's bytes, or null when it is not stored. */
  async get(sha256: string): Promise<Uint8Array | null> {
    const meta = await this.meta(sha256);
    if (!meta) return null;
    const out = new Uint8Array(meta.size);
    let offset = 0;
    for await (
      const entry of this.kv.list<Uint8Array>({
        prefix: [...this.prefix, sha256, "chunk"],
      })
    ) {
      out.set(entry.value, offset);
      offset += entry.value.length;
    }
    if (offset !== meta.size) throw new Error(`Blob "${sha256}" is incomplete`);
    return out;
  }
}
