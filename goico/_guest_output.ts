/**
 * What a guest writes and logs during one call, captured within a bound:
 * `env.log` messages and what it writes to stdout and stderr share one
 * budget of bytes per call, counted as the bytes arrive (only what is kept
 * is copied), each log entry also counting {@link LOG_ENTRY_OVERHEAD}
 * bytes so that a flood of tiny lines is bounded too. Past the budget
 * output is dropped and counted, and the call's logs end with a host
 * warning saying how much was dropped. Private to `WasmGuest`.
 *
 * @module
 */
import { Fd } from "@bjorn3/browser_wasi_shim";

export type GuestLogSource = "module" | "stdout" | "stderr" | "host";
export interface GuestLog {
  /** zerolog numbering: 0 debug, 1 info, 2 warn, 3 error, 4 fatal, 5 panic, 6 none. */
  level: number;
  message: string;
  source: GuestLogSource;
}

export const LEVEL_WARN = 2;
/** What one log entry costs of the budget beyond its message's bytes. */
export const LOG_ENTRY_OVERHEAD = 64;
/**
 * Host warnings kept per call; later ones are counted in one last warning.
 * A guest can make the host warn (an `env.log` outside its memory) for one
 * unit of fuel a time: unbounded, a million such calls kept a million
 * entries, gigabytes in the Worker and again in the main isolate.
 */
export const MAX_HOST_WARNINGS = 10;

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Where a guest's output goes: stdout or stderr of the capture. */
export class OutputFd extends Fd {
  constructor(readonly stream: "stdout" | "stderr") {
    super();
  }
}

/**
 * Standard input: empty and read-only. The shim's in-memory file would
 * grow with every write, `fd_allocate` or `fd_filestat_set_size` (to
 * gigabytes, in one call): here they fail.
 */
export class EmptyStdin extends Fd {
  override fd_read(): { ret: number; data: Uint8Array } {
    return { ret: 0, data: new Uint8Array() };
  }
}

export class Capture {
  logs: GuestLog[] = [];
  #stdout: Uint8Array[] = [];
  #stderr: Uint8Array[] = [];
  /** Bytes of the budget used by this call. */
  #used = 0;
  /** Bytes the guest wrote or logged past the budget. */
  #dropped = 0;
  /** Whether anything (even an empty entry) was dropped. */
  #truncated = false;
  /** Host warnings kept by this call, and those past MAX_HOST_WARNINGS. */
  #warnings = 0;
  #moreWarnings = 0;
  memory?: WebAssembly.Memory;

  constructor(
    /** Longest message kept, in bytes. */
    readonly maxLog: number,
    /** Budget of one call, in bytes. */
    readonly limit: number,
  ) {}

  /** Bytes of the budget left. */
  get room(): number {
    return Math.max(0, this.limit - this.#used);
  }

  /**
   * A host warning: kept outside the output budget (it says what the host
   * did), up to MAX_HOST_WARNINGS a call; the rest are counted.
   */
  warn(message: string): void {
    if (this.#warnings >= MAX_HOST_WARNINGS) {
      this.#moreWarnings++;
      return;
    }
    this.#warnings++;
    this.logs.push({ level: LEVEL_WARN, source: "host", message });
  }

  /** `env.log(level, ptr, len)`. */
  log(level: number, ptr: number, len: number): void {
    const memory = this.memory;
    ptr >>>= 0;
    len >>>= 0;
    if (!memory || ptr + len > memory.buffer.byteLength) {
      this.warn(
        `env.log called with a range outside the module's memory (${ptr}+${len})`,
      );
      return;
    }
    // What fits: the message, cut to the longest kept and to the room
    // left (a cut message ends with a note, which counts too).
    const note = 32;
    let n = Math.min(len, this.maxLog);
    if (n + LOG_ENTRY_OVERHEAD > this.room) {
      n = Math.max(0, this.room - LOG_ENTRY_OVERHEAD - note);
    }
    if (n + LOG_ENTRY_OVERHEAD > this.room || (n === 0 && len > 0)) {
      this.drop(len);
      return;
    }
    let message = decoder.decode(new Uint8Array(memory.buffer, ptr, n));
    if (n < len) message += ` [truncated ${len - n} bytes]`;
    this.#used += n + (n < len ? note : 0) + LOG_ENTRY_OVERHEAD;
    if (n < len && n < this.maxLog) this.drop(len - n);
    const lvl = level >= 0 && level <= 6 ? level : 6;
    this.logs.push({ level: lvl, source: "module", message });
  }

  /**
   * Bytes written to a stream: keeps (a copy of) what fits the budget,
   * each byte counting 1 and each line break LOG_ENTRY_OVERHEAD more (it
   * ends a log entry), drops and counts the rest. Looks at no more bytes
   * than the budget has room for. Returns the bytes kept.
   */
  write(stream: "stdout" | "stderr", bytes: Uint8Array): number {
    const room = this.room;
    let cost = 0;
    let keep = 0;
    const n = Math.min(bytes.length, room);
    while (keep < n) {
      const c = cost + 1 + (bytes[keep] === 10 ? LOG_ENTRY_OVERHEAD : 0);
      if (c > room) break;
      cost = c;
      keep++;
    }
    if (keep > 0) {
      (stream === "stdout" ? this.#stdout : this.#stderr).push(
        bytes.slice(0, keep),
      );
      this.#used += cost;
    }
    if (keep < bytes.length) this.drop(bytes.length - keep);
    return keep;
  }

  /** Counts `n` bytes written past the budget, without looking at them. */
  drop(n: number): void {
    this.#dropped += n;
    this.#truncated = true;
  }

  /**
   * The logs of the call so far: env.log calls, then stdout and stderr
   * lines, then a warning if output was dropped. Resets the capture.
   */
  take(): GuestLog[] {
    // Line breaks paid for their entries as they came.
    const lines = (
      chunks: Uint8Array[],
      source: GuestLogSource,
      level: number,
    ): GuestLog[] => {
      if (chunks.length === 0) return [];
      const text = decoder.decode(concat(chunks));
      return text.split("\n").filter((l, i, all) =>
        l !== "" || i < all.length - 1
      ).map((l) => ({
        level,
        source,
        message: l.length > this.maxLog ? l.slice(0, this.maxLog) : l,
      }));
    };
    const logs = [
      ...this.logs,
      ...lines(this.#stdout, "stdout", 1),
      ...lines(this.#stderr, "stderr", 3),
    ];
    if (this.#moreWarnings > 0) {
      logs.push({
        level: LEVEL_WARN,
        source: "host",
        message: `${this.#moreWarnings} more host warnings were not kept ` +
          `(at most ${MAX_HOST_WARNINGS} per execution)`,
      });
    }
    if (this.#truncated) {
      logs.push({
        level: LEVEL_WARN,
        source: "host",
        message: `Output truncated: ${this.#dropped} more bytes were written ` +
          `or logged past the limit of ${formatKiB(this.limit)} per execution`,
      });
    }
    this.logs = [];
    this.#stdout = [];
    this.#stderr = [];
    this.#used = 0;
    this.#dropped = 0;
    this.#truncated = false;
    this.#warnings = 0;
    this.#moreWarnings = 0;
    return logs;
  }
}

function formatKiB(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
