/**
 * Content-addressed byte storage on Deno KV. A KV value holds at most
 * 64 KiB and an atomic write 800 KiB, so blobs are split into chunks written
 * in several atomics; the metadata entry is written last, so a blob is
 * visible only once every chunk is stored.
 */

import { deletePrefixes } from "./delete_prefixes.ts";

const CHUNK = 60 * 1024;
const CHUNKS_PER_ATOMIC = 10;

export interface BlobMeta {
  sha256: string;
  size: number;
  chunks: number;
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
  constructor(
    private readonly kv: Deno.Kv,
    private readonly prefix: Deno.KvKey = ["blob"],
  ) {}

  #metaKey(sha: string): Deno.KvKey {
    return [...this.prefix, sha, "meta"];
  }
  #chunkKey(sha: string, i: number): Deno.KvKey {
    return [...this.prefix, sha, "chunk", i];
  }

  /** Stores bytes (once per content) and returns their metadata. */
  async put(bytes: Uint8Array): Promise<BlobMeta> {
    const sha256 = await sha256Hex(bytes);
    const existing = await this.kv.get<BlobMeta>(this.#metaKey(sha256));
    if (existing.value) return existing.value;
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
    const res = await this.kv.atomic().set(this.#metaKey(sha256), meta)
      .commit();
    if (!res.ok) throw new Error(`Storing blob "${sha256}" failed`);
    return meta;
  }

  /** The blob's metadata, or null when it is not stored. */
  /** Removes a blob: its metadata first, so it is never seen half gone. */
  async delete(sha256: string): Promise<void> {
    await deletePrefixes(this.kv, [this.#metaKey(sha256), [
      ...this.prefix,
      sha256,
    ]]);
  }

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
