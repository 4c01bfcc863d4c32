/**
 * One reader of a tenant's executions for all of its live streams. It
 * follows the tenant's change feed, reads each new execution once from the
 * tenant's log (in commit order, see execution_log.ts: an execution
 * committed late with a smaller id is not passed over), encodes it once
 * and offers it to every subscriber's bounded channel; a channel
 * that cannot take it drops its stream, and the subscriber leaves. So the
 * store is read once per change whatever the number of streams, and a slow
 * client never holds the others back.
 *
 * New executions are handed out in groups of at most `groupBytes`, one
 * shared chunk per group for every subscriber that takes all of it, with a
 * turn of the event loop between groups so that clients that keep up can
 * take each group before the next comes.
 */
import type { SseChannel } from "@jobico/goico";
import { encodeSse } from "@jobico/goico";
import {
  type ExecutionFilter,
  type ExecutionStore,
  matches,
} from "./execution_store.ts";
import type { LogPage, LogPosition } from "./execution_log.ts";

type Page = LogPage["entries"];

/** A stream that follows a tenant's executions. */
export interface FanoutSubscriber {
  readonly channel: SseChannel;
  readonly filter: ExecutionFilter;
  /**
   * Once `live`, executions after this place in the log are offered (it
   * advances as they are).
   */
  after: LogPosition;
  /** The id of the last execution handed to it or passed over by its filter. */
  lastId: string | null;
  /** False while the stream catches up on its own (see ExecutionStreams). */
  live: boolean;
}

export interface TenantFanoutOptions {
  /** Executions read from the store at once. Default 100. */
  pageSize?: number;
  /** Most bytes of executions handed out between two turns of the event loop. Default 64 KiB. */
  groupBytes?: number;
  /** Told when reading fails (every subscriber is then dropped). */
  onError?: (err: unknown) => void;
}

export class TenantFanout {
  readonly #subs = new Set<FanoutSubscriber>();
  readonly #ctrl = new AbortController();
  readonly #pageSize: number;
  readonly #groupBytes: number;
  #position: LogPosition = "";
  #lastId: string | null = null;
  #stopped = false;
  /** Resolves once the reader knows where the tenant's executions end. */
  readonly ready: Promise<void>;
  /** Resolves when the reader has stopped. */
  readonly done: Promise<void>;

  constructor(
    private readonly store: ExecutionStore,
    readonly tenant: string,
    options: TenantFanoutOptions = {},
  ) {
    this.#pageSize = options.pageSize ?? 100;
    this.#groupBytes = options.groupBytes ?? 64 * 1024;
    let ready!: () => void;
    this.ready = new Promise((r) => (ready = r));
    this.done = this.#run(ready).catch((err) => {
      if (this.#ctrl.signal.aborted) return;
      this.#stopped = true;
      options.onError?.(err);
      for (const sub of this.#subs) {
        sub.channel.drop(
          `The server could not read the executions of tenant "${tenant}"`,
        );
      }
      this.#subs.clear();
    }).finally(ready);
  }

  /** Where in the log the reader is: everything up to it has been read. */
  get position(): LogPosition {
    return this.#position;
  }

  /** The id of the last execution read, or before the reader started (null: none). */
  get lastId(): string | null {
    return this.#lastId;
  }

  /** Subscribers, live or catching up. */
  get size(): number {
    return this.#subs.size;
  }

  /** Whether the reader has stopped (`stop`, or it failed). */
  get stopped(): boolean {
    return this.#stopped;
  }

  add(sub: FanoutSubscriber): void {
    this.#subs.add(sub);
  }

  remove(sub: FanoutSubscriber): void {
    this.#subs.delete(sub);
  }

  /** Stops reading. */
  stop(): void {
    this.#stopped = true;
    this.#ctrl.abort();
  }

  async #run(ready: () => void): Promise<void> {
    const signal = this.#ctrl.signal;
    const end = await this.store.log.end(this.tenant);
    this.#position = end.position;
    this.#lastId = end.lastId;
    ready();
    for await (const _ of this.store.feed(this.tenant).changes(signal)) {
      while (!signal.aborted) {
        const page = await this.store.log.read(
          this.tenant,
          this.#position,
          this.#pageSize,
        );
        if (signal.aborted) break;
        // Before handing out: a stream that catches up reads up to here itself.
        this.#position = page.through;
        const last = page.entries.at(-1);
        if (last) {
          this.#lastId = last.execution.id;
          await this.#handOut(page.entries, signal);
        }
        if (!page.more) break;
      }
    }
  }

  /** Offers a page of executions to the live subscribers, group by group. */
  async #handOut(page: Page, signal: AbortSignal): Promise<void> {
    const encoded = page.map(({ execution: e }) =>
      encodeSse({ event: "execution", id: e.id, data: JSON.stringify(e) })
    );
    let start = 0;
    while (start < page.length) {
      let end = start;
      let bytes = 0;
      do bytes += encoded[end++].length; while (
        end < page.length && bytes + encoded[end].length <= this.#groupBytes
      );
      this.#offerGroup(page, encoded, start, end);
      start = end;
      if (start < page.length) {
        await new Promise((r) => setTimeout(r, 0));
        if (signal.aborted) return;
      }
    }
  }

  #offerGroup(
    page: Page,
    encoded: Uint8Array[],
    start: number,
    end: number,
  ): void {
    let whole: Uint8Array | undefined;
    const last = page[end - 1];
    for (const sub of this.#subs) {
      if (!sub.live || !sub.channel.open) continue;
      const picked: number[] = [];
      for (let i = start; i < end; i++) {
        const { position, execution } = page[i];
        if (position <= sub.after) continue;
        if (matches(execution, sub.filter)) picked.push(i);
      }
      if (last.position > sub.after) {
        sub.after = last.position;
        sub.lastId = last.execution.id;
      }
      if (picked.length === 0) continue;
      const chunk = picked.length === end - start
        ? (whole ??= concat(encoded, start, end))
        : concat(picked.map((i) => encoded[i]), 0, picked.length);
      const lastPicked = page[picked[picked.length - 1]].execution.id;
      if (!sub.channel.offer(chunk, lastPicked)) {
        // Dropped (it fell behind) or ended: it resumes on a new stream.
        this.#subs.delete(sub);
      }
    }
  }
}

function concat(parts: Uint8Array[], start: number, end: number): Uint8Array {
  if (end - start === 1) return parts[start];
  let total = 0;
  for (let i = start; i < end; i++) total += parts[i].length;
  const out = new Uint8Array(total);
  let at = 0;
  for (let i = start; i < end; i++) {
    out.set(parts[i], at);
    at += parts[i].length;
  }
  return out;
}
