import { stderrLines } from "./line_batcher.ts";

/** A structured logger that writes one JSON object per line. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
};

/**
 * Options of {@linkcode jsonLogger}.
 *
 * @example
 * ```ts
 * const logger = jsonLogger({ level: "debug", fields: { component: "ctl" } });
 * ```
 */
export interface JsonLoggerOptions {
  /**
   * Lines below this level are dropped.
   *
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * Where lines go, one at a time.
   *
   * @default {undefined} (stderr: debug and info lines wait for a write's
   * worth, 4096 bytes, or 20 ms and go out together; a warning or an error
   * goes out at once, after them; see line_batcher.ts)
   */
  write?: (line: string) => void;
  /**
   * Fields added to every line (e.g. the component name).
   *
   * @default {{}}
   */
  fields?: Record<string, unknown>;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

/** A logger writing JSON lines: `{"time":..., "level":..., "msg":..., ...fields}`. */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const lines = options.write ? undefined : stderrLines();
  const write = options.write ??
    ((line: string, level: LogLevel) =>
      ORDER[level] >= ORDER.warn ? lines!.now(line) : lines!.add(line));
  const now = options.now ?? Date.now;
  const base = options.fields ?? {};
  const log =
    (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < min) return;
      write(
        JSON.stringify({
          time: new Date(now()).toISOString(),
          level,
          msg,
          ...base,
          ...fields,
        }),
        level,
      );
    };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  };
}

/** A logger that drops everything (for tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
