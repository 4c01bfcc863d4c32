import type { TextWriter } from "./output.ts";

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** What is being done, e.g. `Uploading`. */
  label: string;
  /** How many units there are; 0 when unknown (a spinner is drawn). */
  total: number;
  /** Shows a count of units, e.g. as bytes; `String` by default. */
  format?: (units: number) => string;
  /** The clock, in ms; `Date.now` by default. */
  now?: () => number;
  /** Least time between two redraws, in ms (the last one is always drawn). Default 50. */
  throttleMs?: number;
}

const BAR = 24;
const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";

/**
 * A one-line progress bar on a terminal, redrawn in place with `\r`:
 * `Uploading  [██████████░░░░░░░░░░░░░░]  2/5  greet.wasm`. Drawn only
 * when the writer is a terminal (and not `TERM=dumb`), so pipes, files and
 * `--json` consumers never see it; use it on stderr. `done()` erases it.
 */
export class Progress {
  readonly #writer?: TextWriter;
  readonly #options: ProgressOptions;
  readonly #now: () => number;
  #done = 0;
  #detail = "";
  #lastDraw = -Infinity;
  #frame = 0;
  #drawn = false;

  constructor(
    writer: TextWriter,
    env: Record<string, string | undefined>,
    options: ProgressOptions,
  ) {
    const tty = (writer.isTerminal?.() ?? false) && env.TERM !== "dumb";
    this.#writer = tty ? writer : undefined;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether anything is drawn at all. */
  get visible(): boolean {
    return this.#writer !== undefined;
  }

  /** Sets how many units are done (and what is under way). */
  update(done: number, detail?: string): void {
    this.#done = done;
    if (detail !== undefined) this.#detail = detail;
    this.#draw(false);
  }

  /** Adds `units` to what is done. */
  add(units: number, detail?: string): void {
    this.update(this.#done + units, detail);
  }

  /** Erases the bar; the line is free for a message again. */
  done(): void {
    if (!this.#writer || !this.#drawn) return;
    this.#writer.write("\r\x1b[2K");
    this.#drawn = false;
  }

  /** The line as it would be drawn (without the `\r`), for a width. */
  line(width = 80): string {
    const { label, total } = this.#options;
    const format = this.#options.format ?? String;
    let bar: string;
    let count: string;
    if (total > 0) {
      const ratio = Math.min(1, Math.max(0, this.#done / total));
      const full = Math.round(ratio * BAR);
      bar = `[${"█".repeat(full)}${"░".repeat(BAR - full)}]`;
      count = `${format(this.#done)}/${format(total)}`;
    } else {
      bar = SPINNER[this.#frame % SPINNER.length];
      count = this.#done > 0 ? format(this.#done) : "";
    }
    const text = [label, bar, count, this.#detail].filter((p) => p).join("  ");
    const chars = [...text];
    return chars.length < width ? text : chars.slice(0, width - 1).join("");
  }

  #draw(force: boolean): void {
    if (!this.#writer) return;
    const now = this.#now();
    const last = this.#options.total > 0 &&
      this.#done >= this.#options.total;
    if (
      !force && !last && now - this.#lastDraw < (this.#options.throttleMs ?? 50)
    ) {
      return;
    }
    this.#lastDraw = now;
    this.#frame++;
    const width = this.#writer.columns?.() ?? 80;
    this.#writer.write(`\r\x1b[2K${this.line(width)}`);
    this.#drawn = true;
  }
}

/** `532 B`, `12.5 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
