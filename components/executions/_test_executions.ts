/**
 * For tests of the execution streams: records executions through the real
 * ExecutionStore on a real KV, in atomic batches as the executor does (each
 * batch tells the tenant's change feed once), and reads SSE text.
 */
import { monotonicIdFactory, WriteBatch } from "@jobico/goico";
import type { Execution } from "./execution.ts";
import type { ExecutionStore } from "./execution_store.ts";

const nextId = monotonicIdFactory();

export interface RecordOptions {
  /** Executions per atomic write. Default 20. */
  batch?: number;
  /** Characters of each result (it is kept up to 16 Ki). Default 10. */
  resultChars?: number;
  event?: string;
  /**
   * Makes each execution's id, as a recording process does (each has its
   * own clock). Default: one id maker shared by the tests.
   */
  newId?: () => string;
  /**
   * Tells the store after each commit, as the executor does, so that it
   * moves the records to the tenant's log (false: they stay in its inbox,
   * as a recording process that died leaves them). Default true.
   */
  settle?: boolean;
}

/** Records `n` executions of `tenant` and returns them in the order recorded. */
export async function recordExecutions(
  kv: Deno.Kv,
  store: ExecutionStore,
  tenant: string,
  n: number,
  options: RecordOptions = {},
): Promise<Execution[]> {
  const batch = options.batch ?? 20;
  const newId = options.newId ?? nextId;
  const out: Execution[] = [];
  for (let i = 0; i < n; i += batch) {
    const execs = Array.from(
      { length: Math.min(batch, n - i) },
      (_, j): Execution => ({
        id: newId(),
        eventId: `event-${i + j}`,
        tenant,
        package: "pkg",
        event: options.event ?? "ev",
        queue: "q",
        status: "ok",
        code: 0,
        result: "r".repeat(options.resultChars ?? 10),
        error: null,
        logs: [],
        attempt: 1,
        startedAt: new Date(0).toISOString(),
        durationMs: 1,
      }),
    );
    const op = store.recordAll(
      new WriteBatch(kv),
      execs.map((e) => store.fit(e)),
    );
    const res = await op.commit();
    if (!res.ok) throw new Error("recording failed");
    if (options.settle !== false) store.committed(execs, res.versionstamp);
    out.push(...execs);
  }
  return out;
}

/** The events of SSE text that arrived whole (ended by a blank line). */
export function sseEvents(
  text: string,
): { event?: string; id?: string; data: string }[] {
  const out: { event?: string; id?: string; data: string }[] = [];
  const whole = text.slice(0, text.lastIndexOf("\n\n") + 2);
  for (const block of whole.split("\n\n")) {
    const msg: { event?: string; id?: string; data: string } = { data: "" };
    let fields = 0;
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) msg.event = line.slice(7);
      else if (line.startsWith("id: ")) msg.id = line.slice(4);
      else if (line.startsWith("data: ")) {
        msg.data += (fields++ > 0 ? "\n" : "") + line.slice(6);
      } else continue;
    }
    if (msg.event || msg.id || fields > 0) out.push(msg);
  }
  return out;
}

/** The ids of the `execution` events of SSE text, in order. */
export function executionIds(text: string): string[] {
  return sseEvents(text).filter((m) => m.event === "execution").map((m) =>
    m.id!
  );
}

/** SSE events parsed as they arrive: whole events only, kept in order. */
export class SseReader {
  readonly events: { event?: string; id?: string; data: string }[] = [];
  /** The ids of the `execution` events so far. */
  readonly ids: string[] = [];
  /** Everything read, for the messages of failures. */
  text = "";
  ended = false;
  readonly #decoder = new TextDecoder();
  #partial = "";

  constructor(readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Takes text already read from the stream. */
  take(text: string): void {
    this.text += text;
    this.#partial += text;
    const end = this.#partial.lastIndexOf("\n\n");
    if (end < 0) return;
    for (const m of sseEvents(this.#partial.slice(0, end + 2))) {
      this.events.push(m);
      if (m.event === "execution") this.ids.push(m.id!);
    }
    this.#partial = this.#partial.slice(end + 2);
  }

  /**
   * Reads until `done()` holds or the stream ends; fails after `ms`
   * without progress.
   */
  async until(done: () => boolean, ms = 10_000): Promise<this> {
    while (!done() && !this.ended) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `No progress in ${ms} ms; ${this.ids.length} executions so far, last text: ${
                  this.text.slice(-300)
                }`,
              ),
            ),
          ms,
        );
      });
      try {
        const { value, done: ended } = await Promise.race([
          this.reader.read(),
          stalled,
        ]);
        if (ended) this.ended = true;
        else this.take(this.#decoder.decode(value, { stream: true }));
      } finally {
        clearTimeout(timer);
      }
    }
    return this;
  }

  /** Reads until `n` executions have come. */
  executions(n: number): Promise<this> {
    return this.until(() => this.ids.length >= n);
  }

  /** Reads to the end of the stream. */
  toEnd(): Promise<this> {
    return this.until(() => false);
  }
}
