/**
 * `kv.watch()` on PostgreSQL, across processes: a watched key is written
 * to jobico_kv_watched, commits that change one NOTIFY the keys on
 * jobico_kv (see _schema.ts), and each watch re-reads its keys when told,
 * when the connection listening comes back, and on a poll (the fallback
 * for a lost notification). Like Deno KV's, a watch yields the keys' entries
 * at once and then whenever one of their versionstamps changed; changes a
 * slow reader has not taken yet are coalesced into the latest.
 */
import { encodeKey } from "./_key_codec.ts";

/** What the watch hub needs of the store. */
export interface WatchSource {
  /** Reads entries by encoded key, in the order given. */
  read(keys: Uint8Array[]): Promise<Deno.KvEntryMaybe<unknown>[]>;
  /** Makes commits that change these keys notify. */
  register(keys: Uint8Array[]): Promise<void>;
  /** Starts listening; `onNotify` gets each payload, `onListen` each (re)connect. */
  listen(
    onNotify: (payload: string) => void,
    onListen: () => void,
  ): Promise<() => Promise<void>>;
}

const hex = (b: Uint8Array) => {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
};

class Watch {
  readonly hexes: Set<string>;
  last: (string | null)[] | null = null;
  pending: Deno.KvEntryMaybe<unknown>[] | null = null;
  wake: (() => void) | null = null;
  closed = false;
  #running: Promise<void> | null = null;
  #again = false;

  constructor(
    readonly keys: Uint8Array[],
    private readonly source: WatchSource,
    private readonly onError: (err: unknown) => void,
  ) {
    this.hexes = new Set(keys.map(hex));
  }

  /** Reads the keys; a new state is kept for the reader. */
  refresh(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          const entries = await this.source.read(this.keys);
          const stamps = entries.map((e) => e.versionstamp);
          if (
            this.last === null || stamps.some((s, i) => s !== this.last![i])
          ) {
            this.last = stamps;
            this.pending = entries;
            this.wake?.();
          }
        } catch (err) {
          if (!this.closed) this.onError(err);
        }
      } while (this.#again && !this.closed);
      this.#running = null;
    })();
    return this.#running;
  }
}

/** The watches of one store. */
export class WatchHub {
  readonly #watches = new Set<Watch>();
  #unlisten: Promise<() => Promise<void>> | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #registered = new Set<string>();

  constructor(
    private readonly source: WatchSource,
    private readonly pollMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  #onNotify(payload: string) {
    const touched = payload === "*" ? null : new Set(payload.split(","));
    for (const w of this.#watches) {
      if (!touched || [...w.hexes].some((h) => touched.has(h))) w.refresh();
    }
  }

  #refreshAll() {
    for (const w of this.#watches) w.refresh();
  }

  watch(
    keys: readonly Deno.KvKey[],
  ): ReadableStream<Deno.KvEntryMaybe<unknown>[]> {
    if (keys.length > 10) throw new TypeError("Too many keys (max 10)");
    const encoded = keys.map((k) => encodeKey(k));
    const w = new Watch(encoded, this.source, this.onError);
    let ready: Promise<void> | null = null;
    const start = async () => {
      const fresh = encoded.filter((k) => !this.#registered.has(hex(k)));
      if (fresh.length > 0) {
        await this.source.register(fresh);
        for (const k of fresh) this.#registered.add(hex(k));
      }
      this.#unlisten ??= this.source.listen(
        (p) => this.#onNotify(p),
        () => this.#refreshAll(),
      );
      await this.#unlisten;
      this.#watches.add(w);
      if (this.#timer === undefined && this.pollMs > 0) {
        this.#timer = setInterval(() => this.#refreshAll(), this.pollMs);
      }
      await w.refresh();
    };
    const stop = () => {
      w.closed = true;
      w.wake?.();
      this.#watches.delete(w);
      if (this.#watches.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
    return new ReadableStream<Deno.KvEntryMaybe<unknown>[]>({
      pull: async (controller) => {
        ready ??= start();
        await ready;
        while (!w.pending && !w.closed) {
          await new Promise<void>((resolve) => (w.wake = resolve));
          w.wake = null;
        }
        if (w.closed) {
          controller.close();
          return;
        }
        controller.enqueue(w.pending!);
        w.pending = null;
      },
      cancel: () => stop(),
    }, { highWaterMark: 0 });
  }

  /** Ends every watch and stops listening. */
  async close(): Promise<void> {
    for (const w of [...this.#watches]) {
      w.closed = true;
      w.wake?.();
    }
    this.#watches.clear();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const unlisten = this.#unlisten;
    this.#unlisten = null;
    if (unlisten) await (await unlisten.catch(() => null))?.().catch(() => {});
  }
}
