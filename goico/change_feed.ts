/**
 * A change feed on one KV key. Writers add `notify(op)` to the atomic that
 * makes a change; readers iterate `changes()` and are woken when it commits.
 *
 * `kv.watch` wakes readers within milliseconds inside one process, but not
 * across processes that share one SQLite file, so a poll of the key runs
 * beside it (default every 500 ms). Readers see "something changed" and
 * re-read what they need: changes may be coalesced, never lost.
 *
 * The key holds a count of the changes announced so far (a `Deno.KvU64`
 * that `notify` adds 1 to), so a reader can tell how far it has read:
 * `changes()` yields the count it saw, and `position()` reads the latest.
 */
import { WriteBatch } from "./write_batch.ts";

/**
 * How a {@linkcode ChangeFeed} reader notices changes.
 *
 * @example
 * ```ts
 * // Another process writes the same SQLite file: poll more often.
 * const feed = new ChangeFeed(kv, ["signal", "definitions"], { pollMs: 100 });
 * ```
 */
export interface ChangeFeedOptions {
  /**
   * How often to poll the key besides watching it, in ms; 0 disables.
   *
   * @default {500}
   */
  pollMs?: number;
}

export class ChangeFeed {
  readonly #pollMs: number;
  constructor(
    private readonly kv: Deno.Kv,
    readonly key: Deno.KvKey,
    options: ChangeFeedOptions = {},
  ) {
    this.#pollMs = options.pollMs ?? 500;
  }

  /**
   * Adds the mutation that announces a change to a write (a `WriteBatch`,
   * which writes it once however many changes it announces, or an atomic
   * operation).
   */
  notify<W extends { sum(key: Deno.KvKey, n: bigint): unknown }>(op: W): W {
    op.sum(this.key, 1n);
    return op;
  }

  /** Announces a change on its own. */
  async touch(): Promise<void> {
    await this.notify(new WriteBatch(this.kv)).commit();
  }

  /** The number of changes announced so far (0 before the first). */
  async position(): Promise<bigint> {
    return countOf((await this.kv.get(this.key)).value);
  }

  /**
   * Yields once at start, then once after each batch of changes, until the
   * signal aborts. Each yield is the number of changes announced when the
   * key was read: what the reader does after the yield sees at least those.
   */
  async *changes(signal: AbortSignal): AsyncGenerator<bigint> {
    let last: string | null | undefined = undefined;
    let wake: (() => void) | null = null;
    let pending = true;
    /** The newest entry the watch or the poll saw that was not yielded yet. */
    let seen: Deno.KvEntryMaybe<unknown> | null = null;
    const poke = (entry: Deno.KvEntryMaybe<unknown>) => {
      if (!newer(entry.versionstamp, last)) return;
      if (!seen || newer(entry.versionstamp, seen.versionstamp)) seen = entry;
      pending = true;
      wake?.();
    };
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    const stream = this.kv.watch([this.key]);
    const reader = stream.getReader();
    const watching = (async () => {
      try {
        while (!signal.aborted) {
          const { done, value } = await reader.read();
          if (done) break;
          poke(value[0]);
        }
      } catch {
        // The KV was closed; polling (or the abort) ends the feed.
      }
    })();
    const timer = this.#pollMs > 0
      ? setInterval(async () => {
        try {
          poke(await this.kv.get(this.key));
        } catch {
          // KV closed while shutting down.
        }
      }, this.#pollMs)
      : undefined;
    try {
      while (!signal.aborted) {
        if (!pending) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          continue;
        }
        pending = false;
        // What the watch delivered is what a read would give: no read then.
        // (`seen` is set by the watch and the poll, which TS does not follow.)
        let entry = seen as Deno.KvEntryMaybe<unknown> | null;
        seen = null;
        if (!entry) {
          try {
            entry = await this.kv.get(this.key);
          } catch {
            return;
          }
        }
        last = entry.versionstamp;
        // What the watch or the poll delivered while the key was read may be
        // this same state: not a change to yield again.
        const meanwhile = seen as Deno.KvEntryMaybe<unknown> | null;
        if (meanwhile && !newer(meanwhile.versionstamp, last)) {
          seen = null;
          pending = false;
        }
        const count = countOf(entry.value);
        // The signal may have aborted while the key was read.
        if (signal.aborted) break;
        yield count;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearInterval(timer);
      await reader.cancel().catch(() => {});
      await watching;
    }
  }
}

/** Whether versionstamp `a` is later than `b` (undefined: nothing read yet; null: no entry). */
function newer(a: string | null, b: string | null | undefined): boolean {
  if (b === undefined) return true;
  if (a === null) return false;
  return b === null || a > b;
}

function countOf(value: unknown): bigint {
  return value instanceof Deno.KvU64 ? value.value : 0n;
}
