/**
 * Lines written together: lines wait until a write's worth of them is
 * there (`maxChunk` bytes) or for at most `maxDelayMs`, and go out in one
 * write instead of a system call each (a request log line written alone
 * cost the listener 5-11 µs of its ~100 per request, written once per
 * event-loop turn still 3-4 µs: bench/ingest_breakdown.ts). A line that
 * must not wait (a warning, an error) is written at once, after the lines
 * waiting before it, so the order is kept.
 *
 * A write holds whole lines and at most `maxChunk` bytes (4096 by default,
 * the size up to which writes to a pipe are atomic: processes and isolates
 * that share the pipe never cut each other's lines); a longer line is
 * written alone.
 */

export interface LineBatcherOptions {
  /** Writes bytes and returns how many it wrote (as `Deno.stderr.writeSync`). */
  writeSync: (bytes: Uint8Array) => number;
  /** Bytes of one write, at most (whole lines); lines that fill one are written at once. Default 4096. */
  maxChunk?: number;
  /** How long a line may wait, in ms. Default 20. */
  maxDelayMs?: number;
}

const NEWLINE = 0x0a;

export class LineBatcher {
  readonly #write: (bytes: Uint8Array) => number;
  readonly #maxChunk: number;
  readonly #maxDelayMs: number;
  readonly #encoder = new TextEncoder();
  #waiting = "";
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: LineBatcherOptions) {
    this.#write = options.writeSync;
    this.#maxChunk = options.maxChunk ?? 4096;
    this.#maxDelayMs = options.maxDelayMs ?? 20;
  }

  /** Adds a line (without its newline), written within `maxDelayMs`. */
  add(line: string): void {
    this.#waiting += line + "\n";
    // Characters: as many bytes or more, so a write's worth at least.
    if (this.#waiting.length >= this.#maxChunk) return this.flush();
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.flush(), this.#maxDelayMs);
  }

  /** Writes the lines waiting, then this one, at once. */
  now(line: string): void {
    this.#waiting += line + "\n";
    this.flush();
  }

  /** Writes the lines waiting. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#waiting === "") return;
    const bytes = this.#encoder.encode(this.#waiting);
    this.#waiting = "";
    for (let start = 0; start < bytes.length;) {
      let end = bytes.length;
      if (end - start > this.#maxChunk) {
        // The last whole line within the chunk, or else the one line.
        end = bytes.lastIndexOf(NEWLINE, start + this.#maxChunk - 1) + 1;
        if (end <= start) end = bytes.indexOf(NEWLINE, start) + 1;
      }
      this.#writeAll(bytes.subarray(start, end));
      start = end;
    }
  }

  #writeAll(bytes: Uint8Array): void {
    for (let o = 0; o < bytes.length;) o += this.#write(bytes.subarray(o));
  }
}

let stderr: LineBatcher | undefined;

/**
 * The process's batched stderr (one per isolate), made on first use; what
 * waits is written when the isolate unloads (the end of the program,
 * `Deno.exit`).
 */
export function stderrLines(): LineBatcher {
  if (!stderr) {
    const lines = new LineBatcher({
      writeSync: (b) => Deno.stderr.writeSync(b),
    });
    globalThis.addEventListener("unload", () => lines.flush());
    stderr = lines;
  }
  return stderr;
}
