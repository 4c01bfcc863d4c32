/**
 * An event's flow limits: `rateLimit` (at most `limit` items per `period`
 * per key; over it, items wait for a later window or are refused) and
 * `debounce` (items of one key within `period` of each other run once).
 * This file holds the model and the pure parts: durations, key paths and
 * the text of a key value. The store's side is in components/flow/, the
 * webhook's in components/listener/flow_control.ts.
 */
import { sha256HexNow } from "@jobico/goico";

/** What happens to items over a rate limit. */
export type RateLimitMode = "throttle" | "reject";

/** The values of `rateLimit.mode`, the default first. */
export const RATE_LIMIT_MODES: readonly RateLimitMode[] = [
  "throttle",
  "reject",
];

/** What `rateLimit:` declares. */
export interface RateLimitDef {
  /** Items per period and key, 1 to MAX_RATE_LIMIT. */
  limit: number;
  /** A duration (`30s`, `1m`, `1h`, `1d`), MIN_FLOW_PERIOD_MS to MAX_RATE_PERIOD_MS. */
  period: string;
  /** A key path into each item (`$.customerId`); one key for all when absent. */
  key?: string;
  /**
   * `throttle` (the default): items over the limit wait for the next window
   * with room; `reject`: the request is refused with a 429.
   */
  mode?: RateLimitMode;
}

/** Which item of a debounced burst runs. */
export type DebounceKeep = "last" | "first";

/** The values of `debounce.keep`, the default first. */
export const DEBOUNCE_KEEPS: readonly DebounceKeep[] = ["last", "first"];

/** What `debounce:` declares. */
export interface DebounceDef {
  /** A duration: the item runs once no other of its key came for this long. */
  period: string;
  /** A key path into each item; one key for all when absent. */
  key?: string;
  /** `last` (the default) runs the last item of the burst, `first` the first. */
  keep?: DebounceKeep;
}

/** The most items a rate limit may allow per period (more is no limit). */
export const MAX_RATE_LIMIT = 1_000_000;
/** The shortest period of a rate limit or debounce: the store's pace is ms. */
export const MIN_FLOW_PERIOD_MS = 1_000;
/** The longest period of a rate limit: 30 days. */
export const MAX_RATE_PERIOD_MS = 30 * 86_400_000;
/** The longest period of a debounce: a day. */
export const MAX_DEBOUNCE_PERIOD_MS = 86_400_000;
/** Longest key path, in characters. */
export const MAX_KEY_PATH_CHARS = 256;
/** Key values longer than this (as text) are keyed by their sha-256. */
export const MAX_KEY_TEXT_CHARS = 128;

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION = /^([0-9]{1,12})(ms|s|m|h|d)$/;

/**
 * A duration's ms (`500ms`, `30s`, `5m`, `2h`, `1d`); throws an Error
 * saying what is wrong.
 */
export function durationMs(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) {
    throw new Error(
      `Invalid duration ${
        JSON.stringify(text.slice(0, 64))
      }: use a whole number and a unit (30s, 5m, 2h, 1d)`,
    );
  }
  return Number(m[1]) * UNITS[m[2]];
}

/** A compiled key path: the names and indexes to follow from the item. */
export type KeyPath = readonly (string | number)[];

const SEGMENT =
  /^(?:\.([A-Za-z_$][A-Za-z0-9_$-]*)|\[([0-9]{1,9})\]|\["((?:[^"\\]|\\.)*)"\])/;

/**
 * Compiles `$`, `$.a.b`, `$.list[0]`, `$["odd key"]`; throws an Error
 * saying what is wrong.
 */
export function compileKeyPath(text: string): KeyPath {
  if (text.length > MAX_KEY_PATH_CHARS) {
    throw new Error(
      `it is ${text.length} characters long; at most ${MAX_KEY_PATH_CHARS} are allowed`,
    );
  }
  if (!text.startsWith("$")) {
    throw new Error('start it with "$", the item (e.g. "$.customerId")');
  }
  const out: (string | number)[] = [];
  let rest = text.slice(1);
  while (rest !== "") {
    const m = SEGMENT.exec(rest);
    if (!m) {
      throw new Error(
        `cannot read ${
          JSON.stringify(rest.slice(0, 32))
        }: use .name, [index] or ["name"] after "$"`,
      );
    }
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(`"${m[3]}"`));
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** The value at `path` in `item`; undefined when it is not there. */
export function valueAt(item: unknown, path: KeyPath): unknown {
  let v = item;
  for (const step of path) {
    if (v === null || typeof v !== "object") return undefined;
    if (typeof step === "number") {
      if (!Array.isArray(v)) return undefined;
      v = v[step];
    } else {
      if (Array.isArray(v) || !Object.hasOwn(v, step)) return undefined;
      v = (v as Record<string, unknown>)[step];
    }
  }
  return v;
}

/**
 * The text a key value is grouped by: a string as it is, anything else as
 * JSON (a missing value groups with `null`). Texts longer than
 * MAX_KEY_TEXT_CHARS are replaced by `#` and their sha-256, so a value of
 * any size makes a small store key.
 */
export function keyText(value: unknown): string {
  const text = typeof value === "string"
    ? value
    : JSON.stringify(value === undefined ? null : value);
  if (text.length <= MAX_KEY_TEXT_CHARS) return text;
  return "#" + sha256HexNow(text);
}

/** `100 per 1m by $.customerId (throttle)`, for diffs and listings. */
export function rateLimitText(r: RateLimitDef): string {
  return `${r.limit} per ${r.period}${r.key ? ` by ${r.key}` : ""} (${
    r.mode ?? "throttle"
  })`;
}

/** `5s by $.id (keep last)`, for diffs and listings. */
export function debounceText(d: DebounceDef): string {
  return `${d.period}${d.key ? ` by ${d.key}` : ""} (keep ${d.keep ?? "last"})`;
}
