/**
 * Writes about many things (items to move, entries to delete) in as few
 * atomic writes as their measures allow: each thing's writes are made in a
 * part of their own and measured (`WriteBatch`), and a batch takes parts,
 * in order, while they fit; the batch is committed when the next part does
 * not fit, or at `flush`. Bookkeeping each thing adds (a counter's sum, a
 * shared marker) merges within a batch, so it is counted for each part but
 * written once.
 */
import type { KvLimits } from "./kv_limits.ts";
import { WriteBatch } from "./write_batch.ts";

export class WritePacker<T> {
  #batch: WriteBatch;
  #things: T[] = [];

  /**
   * `commit` writes a full batch and what it holds (it may fail or be
   * refused: that is the caller's to handle).
   */
  constructor(
    kv: Deno.Kv,
    private readonly commit: (batch: WriteBatch, things: T[]) => Promise<void>,
    limits?: KvLimits,
  ) {
    this.#batch = new WriteBatch(kv, limits);
  }

  /** Things in the batch not committed yet. */
  get pending(): number {
    return this.#things.length;
  }

  /**
   * Adds one thing's writes (`write` fills an empty part); the batch so far
   * is committed first when they do not fit beside it.
   *
   * @throws {KvLimitError} when the thing's writes alone fit no atomic
   */
  async add(thing: T, write: (part: WriteBatch) => void): Promise<void> {
    const part = this.#batch.part();
    write(part);
    if (!this.#batch.fits(part)) await this.flush();
    this.#batch.add(part);
    this.#things.push(thing);
  }

  /** Commits what the batch holds, if anything. */
  async flush(): Promise<void> {
    if (this.#things.length === 0) return;
    const batch = this.#batch;
    const things = this.#things;
    this.#batch = batch.part();
    this.#things = [];
    await this.commit(batch, things);
  }
}
