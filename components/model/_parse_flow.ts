/**
 * Reads an event's `rateLimit` and `debounce` from a package's YAML (see
 * flow_limits.ts), reporting each problem at its line and column.
 */
import { isScalar, type Node } from "yaml";
import { type Fields, join, quote } from "./_yaml_positions.ts";
import {
  compileKeyPath,
  DEBOUNCE_KEEPS,
  type DebounceDef,
  type DebounceKeep,
  durationMs,
  MAX_DEBOUNCE_PERIOD_MS,
  MAX_RATE_LIMIT,
  MAX_RATE_PERIOD_MS,
  MIN_FLOW_PERIOD_MS,
  RATE_LIMIT_MODES,
  type RateLimitDef,
  type RateLimitMode,
} from "./flow_limits.ts";
import { describeMs } from "./schedule.ts";

const RATE_LIMIT_KEYS: [string[], string[]] = [["limit", "period"], [
  "key",
  "mode",
]];
const DEBOUNCE_KEYS: [string[], string[]] = [["period"], ["key", "keep"]];

/** Absent or empty: undefined; broken: null (reported); else the node. */
function present(e: Fields, key: string): Node | undefined | null {
  const node = e.get(key);
  if (node === undefined || (isScalar(node) && node.value === null)) {
    return undefined;
  }
  return node;
}

/** An event's `rateLimit`: undefined when absent, null when broken. */
export function readRateLimit(e: Fields): RateLimitDef | undefined | null {
  if (!present(e, "rateLimit")) return undefined;
  const path = join(e.path, "rateLimit");
  const r = e.ctx.fields(
    e.get("rateLimit")!,
    path,
    e.at("rateLimit"),
    ...RATE_LIMIT_KEYS,
  );
  if (!r) return null;
  const limit = r.int("limit", 1, MAX_RATE_LIMIT);
  const period = readPeriod(r, MAX_RATE_PERIOD_MS);
  const key = readKey(r);
  const mode = readChoice(
    r,
    "mode",
    RATE_LIMIT_MODES,
    '"throttle" (the default: items over the limit wait) or "reject" (a 429)',
  );
  if (
    limit === null || limit === undefined || period === null ||
    key === null || mode === null
  ) {
    if (limit === undefined && r.has("limit")) {
      e.ctx.wrongType(
        join(path, "limit"),
        null,
        r.at("limit"),
        "a whole number",
      );
    }
    return null;
  }
  return {
    limit,
    period,
    ...(key !== undefined && { key }),
    ...(mode !== undefined && { mode: mode as RateLimitMode }),
  };
}

/** An event's `debounce`: undefined when absent, null when broken. */
export function readDebounce(e: Fields): DebounceDef | undefined | null {
  if (!present(e, "debounce")) return undefined;
  const path = join(e.path, "debounce");
  const d = e.ctx.fields(
    e.get("debounce")!,
    path,
    e.at("debounce"),
    ...DEBOUNCE_KEYS,
  );
  if (!d) return null;
  const period = readPeriod(d, MAX_DEBOUNCE_PERIOD_MS);
  const key = readKey(d);
  const keep = readChoice(
    d,
    "keep",
    DEBOUNCE_KEEPS,
    '"last" (the default: the last item of a burst runs) or "first"',
  );
  if (period === null || key === null || keep === null) return null;
  return {
    period,
    ...(key !== undefined && { key }),
    ...(keep !== undefined && { keep: keep as DebounceKeep }),
  };
}

/** A required `period` within the bounds; null when broken (reported). */
function readPeriod(f: Fields, maxMs: number): string | null {
  if (!f.has("period")) return null; // reported as missing
  const path = join(f.path, "period");
  const text = f.str("period");
  if (text === undefined) {
    const node = f.get("period");
    if (node === null || (isScalar(node) && node?.value === null)) {
      f.ctx.wrongType(path, node ?? null, f.at("period"), "a duration");
    }
    return null;
  }
  let ms: number;
  try {
    ms = durationMs(text);
  } catch (err) {
    f.ctx.add("structure", path, f.at("period"), (err as Error).message);
    return null;
  }
  if (ms < MIN_FLOW_PERIOD_MS || ms > maxMs) {
    f.ctx.add(
      "structure",
      path,
      f.at("period"),
      `Period ${quote(text)} is out of range: use ${
        describeMs(MIN_FLOW_PERIOD_MS)
      } to ${describeMs(maxMs)}`,
    );
    return null;
  }
  return text.trim();
}

/** An optional key path; null when broken (reported). */
function readKey(f: Fields): string | undefined | null {
  const node = f.get("key");
  if (node === undefined || (isScalar(node) && node.value === null)) {
    return undefined;
  }
  const text = f.str("key");
  if (text === undefined) return null;
  try {
    compileKeyPath(text);
  } catch (err) {
    f.ctx.add(
      "structure",
      join(f.path, "key"),
      f.at("key"),
      `Invalid key path ${quote(text.slice(0, 64))}: ${(err as Error).message}`,
    );
    return null;
  }
  return text;
}

/** An optional value among `choices`; null when broken (reported). */
function readChoice(
  f: Fields,
  key: string,
  choices: readonly string[],
  hint: string,
): string | undefined | null {
  const node = f.get(key);
  if (node === undefined || (isScalar(node) && node.value === null)) {
    return undefined;
  }
  const value = f.str(key);
  if (value === undefined) return null;
  if (choices.includes(value)) return value;
  f.ctx.add(
    "structure",
    join(f.path, key),
    f.at(key),
    `Invalid ${key} ${quote(value.slice(0, 64))}: use ${hint}`,
  );
  return null;
}
