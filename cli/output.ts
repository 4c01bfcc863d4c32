import type { Execution, ExecutionStatus } from "./api_types.ts";
import { SGR, terminalCell, terminalText } from "./terminal_text.ts";

/** Where text goes: a terminal, a pipe, or a test's buffer. */
export interface TextWriter {
  write(text: string): void;
  /** Whether the writer is an interactive terminal (colours, widths). */
  isTerminal?(): boolean;
  /** The terminal width, when known. */
  columns?(): number | undefined;
}

/** The escape sequences the CLI uses; identity functions without colour. */
export interface Palette {
  enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
  cyan(text: string): string;
}

/**
 * Colours are used only when the output is a terminal that is not
 * `TERM=dumb`, and `NO_COLOR` is unset or empty (https://no-color.org).
 * `--no-color` turns them off too (see `CliContext`).
 */
export function shouldColor(
  writer: TextWriter,
  env: Record<string, string | undefined>,
): boolean {
  if (env.NO_COLOR || env.TERM === "dumb") return false;
  return writer.isTerminal?.() ?? false;
}

export function palette(enabled: boolean): Palette {
  const sgr = (open: number, close: number) => (text: string) =>
    enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    red: sgr(31, 39),
    cyan: sgr(36, 39),
  };
}

export function stripAnsi(text: string): string {
  return text.replace(SGR, "");
}

/** The width of text on a terminal, ignoring colour codes. */
export function visibleWidth(text: string): number {
  return [...stripAnsi(text)].length;
}

/** Cuts text to `max` characters, ending with `…` when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  if (max <= 1) return chars.slice(0, max).join("");
  return chars.slice(0, max - 1).join("") + "…";
}

/**
 * Lays rows out in columns separated by two spaces, every column as wide as
 * its widest cell; the last column is not padded. Colour codes in cells do
 * not count towards widths.
 */
export function formatTable(
  headers: string[],
  rows: string[][],
  colors: Palette = palette(false),
): string {
  const all = [headers, ...rows];
  const columns = Math.max(...all.map((r) => r.length));
  // Cells hold what tenants wrote (names, results, a module's imports).
  const safe = all.map((r) => r.map((cell) => terminalCell(cell)));
  const widths = Array.from(
    { length: columns },
    (_, c) => Math.max(...safe.map((r) => visibleWidth(r[c] ?? ""))),
  );
  const line = (cells: string[]) =>
    widths.map((w, c) => {
      const cell = cells[c] ?? "";
      return c === columns - 1
        ? cell
        : cell + " ".repeat(w - visibleWidth(cell));
    }).join("  ").trimEnd();
  return [
    colors.bold(line(safe[0])),
    ...safe.slice(1).map(line),
  ].join("\n") + "\n";
}

/** `key  value` lines, the values aligned. */
export function formatFields(fields: [string, string][]): string {
  const width = Math.max(0, ...fields.map(([key]) => visibleWidth(key)));
  return fields.map(([key, value]) =>
    `${key}${" ".repeat(width - visibleWidth(key))}  ${terminalCell(value)}`
      .trimEnd() + "\n"
  ).join("");
}

/** `12ms`, `1.5s`, `2m05s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, "0")}s`;
}

/** An age, coarser as it grows: `-` for none, `850ms`, `42s`, `3m05s`, `2h07m`, `4d03h`. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** A timestamp as local `YYYY-MM-DD HH:MM:SS`; the input when unparsable. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A timestamp as local `HH:MM:SS.mmm`; the input when unparsable. */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `.${pad(d.getMilliseconds(), 3)}`;
}

/** A status word in its colour: ok green, error yellow, failed red. */
export function formatStatus(
  status: ExecutionStatus | string,
  colors: Palette,
  width = 0,
): string {
  const text = status.padEnd(width);
  if (status === "ok") return colors.green(text);
  if (status === "error") return colors.yellow(text);
  if (status === "failed") return colors.red(text);
  return text;
}

/** What an execution produced, on one line: its error, else its result. */
export function formatOutcome(execution: Execution, max = 80): string {
  // What the module returned or failed with: a tenant's text.
  if (execution.error) {
    return truncate(terminalText(oneLine(execution.error)), max);
  }
  if (execution.result === undefined || execution.result === null) return "";
  const text = typeof execution.result === "string"
    ? execution.result
    : JSON.stringify(execution.result);
  return truncate(terminalText(oneLine(text)), max);
}

export interface ExecutionLineOptions {
  colors?: Palette;
  /** Prints the execution's logs under it, indented. */
  logs?: boolean;
  /** The most characters of result or error to show. */
  maxOutcome?: number;
}

/**
 * One execution as the stream prints it:
 * `12:00:01.123  ok      demo/greet  code=0  12ms  {"message":"Hello Ada"}`,
 * followed by `  [info] message` lines when `logs` is set.
 */
export function formatExecutionLine(
  execution: Execution,
  options: ExecutionLineOptions = {},
): string {
  const colors = options.colors ?? palette(false);
  const outcome = formatOutcome(execution, options.maxOutcome);
  const parts = [
    colors.dim(formatClock(execution.startedAt)),
    formatStatus(execution.status, colors, 6),
    `${execution.package}/${execution.event}`,
    `code=${execution.code ?? "-"}`,
    formatDuration(execution.durationMs),
  ];
  if (outcome) {
    parts.push(execution.error ? colors.red(outcome) : outcome);
  }
  let text = parts.join("  ") + "\n";
  if (options.logs) {
    for (const log of execution.logs ?? []) {
      text += formatLogLine(log.level, log.message, colors);
    }
  }
  return text;
}

/** `  [info] message`, continuation lines indented under the message. */
export function formatLogLine(
  level: string,
  message: string,
  colors: Palette = palette(false),
): string {
  const tag = `[${level}]`;
  const painted = level === "error" || level === "fatal" || level === "panic"
    ? colors.red(tag)
    : level === "warn"
    ? colors.yellow(tag)
    : level === "debug"
    ? colors.dim(tag)
    : tag;
  const indent = " ".repeat(tag.length + 3);
  // What the module logged: a tenant's text.
  const lines = message.replace(/\r?\n$/, "").split(/\r?\n/).map((l) =>
    terminalText(l)
  );
  return `  ${painted} ${lines.join(`\n${indent}`)}\n`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, " ").trim();
}

/** Writes human or JSON output to one writer, with or without colour. */
export class Output {
  readonly colors: Palette;
  readonly #writer: TextWriter;

  constructor(writer: TextWriter, color = false) {
    this.#writer = writer;
    this.colors = palette(color);
  }

  /** Writes text as is. */
  write(text: string): void {
    this.#writer.write(text);
  }

  /**
   * Writes text a tenant wrote (a package's source) as it is into a pipe
   * or a file, and on a terminal with its control characters shown as
   * escapes (`terminalText`).
   */
  writeTenantText(text: string): void {
    this.#writer.write(
      this.#writer.isTerminal?.() ? terminalText(text, true) : text,
    );
  }

  /**
   * Writes one line (a newline is added), its control characters shown as
   * escapes but for colours and newlines (`terminalCell`): a line may quote
   * what a tenant or a sender wrote (a message, a key, a name).
   */
  line(text = ""): void {
    this.#writer.write(terminalCell(text, true) + "\n");
  }

  table(headers: string[], rows: string[][]): void {
    this.#writer.write(formatTable(headers, rows, this.colors));
  }

  /** Writes `key  value` lines, the values aligned. */
  fields(fields: [string, string][]): void {
    this.#writer.write(formatFields(fields));
  }

  /** Writes a value as indented JSON. */
  json(value: unknown): void {
    this.#writer.write(JSON.stringify(value, null, 2) + "\n");
  }

  /** Writes a value as one line of JSON (for streams). */
  jsonLine(value: unknown): void {
    this.#writer.write(JSON.stringify(value) + "\n");
  }
}
