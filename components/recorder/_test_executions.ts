/**
 * For tests of the execution streams: records executions through the real
 * ExecutionStore on a real KV, in atomic batches as the executor does (each
 * batch tells the tenant's change feed once), and reads SSE text.
 */
import { monotonicIdFactory } from "../../goico/mod.ts";
import type { Execution } from "./execution.ts";
import type { ExecutionStore } from "./execution_store.ts";

const nextId = monotonicIdFactory();

export interface RecordOptions {
  /** Executions per atomic write. Default 20. */
  batch?: number;
  /** Characters of each result (it is kept up to 16 Ki). Default 10. */
  resultChars?: number;
  event?: string;
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
  const out: Execution[] = [];
  for (let i = 0; i < n; i += batch) {
    const execs = Array.from(
      { length: Math.min(batch, n - i) },
      (_, j): Execution => ({
        id: nextId(),
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
    const op = store.recordAll(kv.atomic(), execs.map((e) => store.fit(e)));
    if (!(await op.commit()).ok) throw new Error("recording failed");
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

/**
 * Reads a body until `done(text)` holds or it ends; fails after `ms`
 * without progress. Returns the text and whether the body ended.
 */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  initial = "",
  ms = 10_000,
): Promise<{ text: string; ended: boolean }> {
  const decoder = new TextDecoder();
  let text = initial;
  while (!done(text)) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`No progress in ${ms} ms; got ${text.slice(-500)}`)),
        ms,
      );
    });
    try {
      const { value, done: ended } = await Promise.race([
        reader.read(),
        stalled,
      ]);
      if (ended) return { text, ended: true };
      text += decoder.decode(value, { stream: true });
    } finally {
      clearTimeout(timer);
    }
  }
  return { text, ended: false };
}
