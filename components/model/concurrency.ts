/**
 * Concurrency limits of a job package: an event's `concurrency` (at most
 * `limit` executions of the event at once, per value of `key` when it has
 * one) and a runtime's `concurrency` (at most that many executions of the
 * runtime at once, whatever the event). The executor enforces them on the
 * store, across processes (see components/executor/concurrency_gates.ts);
 * this file reads key paths and finds an item's key value, no store.
 *
 * A key is a path into the item, JSONPath-like: `$` then members and
 * indexes, `$.customerId`, `$.order.lines[0].sku`, `$["a key"]`. An item
 * where the path finds nothing (a missing member, an index past the end,
 * a member of a string, or null) runs under one key of its own, shared by
 * all such items (shown as `(missing)`): the limit still holds for them.
 */

/** What an event's `concurrency:` declares. */
export interface ConcurrencyDef {
  /** A path into the item (see the header); absent: one limit for the event. */
  key?: string;
  /** Executions at once (per key value), 1 to MAX_CONCURRENCY. */
  limit: number;
}

/** The highest limit an event or a runtime may declare. */
export const MAX_CONCURRENCY = 10_000;
/** The longest key path. */
export const MAX_KEY_PATH = 256;
/** Segments a key path may have. */
const MAX_SEGMENTS = 32;

/** A compiled key path: member names and list indexes, in order. */
export type KeyPath = readonly (string | number)[];

/**
 * Compiles a key path; throws an Error whose message says what is wrong
 * and where (a 1-based character position).
 */
export function compileKeyPath(path: string): KeyPath {
  if (path.length > MAX_KEY_PATH) {
    throw new Error(
      `it has ${path.length} characters: at most ${MAX_KEY_PATH}`,
    );
  }
  if (!path.startsWith("$")) {
    throw new Error(`start it with "$", e.g. "$.customerId"`);
  }
  const out: (string | number)[] = [];
  let i = 1;
  const fail = (what: string): never => {
    throw new Error(`${what} at character ${i + 1}`);
  };
  while (i < path.length) {
    if (out.length >= MAX_SEGMENTS) {
      throw new Error(`it has more than ${MAX_SEGMENTS} segments`);
    }
    const c = path[i];
    if (c === ".") {
      const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(path.slice(i + 1));
      if (!m) fail(`expected a member name after "."`);
      out.push(m![0]);
      i += 1 + m![0].length;
    } else if (c === "[") {
      const rest = path.slice(i + 1);
      const index = /^([0-9]{1,9})\]/.exec(rest);
      const quoted = /^"((?:[^"\\]|\\.)*)"\]/.exec(rest) ??
        /^'((?:[^'\\]|\\.)*)'\]/.exec(rest);
      if (index) {
        out.push(Number(index[1]));
        i += 1 + index[0].length;
      } else if (quoted) {
        out.push(quoted[1].replace(/\\(.)/g, "$1"));
        i += 1 + quoted[0].length;
      } else {
        fail(`expected an index or a quoted name and "]" after "["`);
      }
    } else {
      fail(`unexpected ${JSON.stringify(c)} (use ".name", "[0]" or ["name"])`);
    }
  }
  return out;
}

/** What a key path finds in an item: undefined when it finds nothing (or null). */
export function keyValueOf(data: unknown, path: KeyPath): unknown {
  let at: unknown = data;
  for (const seg of path) {
    if (at === null || typeof at !== "object") return undefined;
    if (typeof seg === "number") {
      if (!Array.isArray(at)) return undefined;
      at = at[seg];
    } else {
      if (Array.isArray(at) || !Object.hasOwn(at, seg)) return undefined;
      at = (at as Record<string, unknown>)[seg];
    }
  }
  return at ?? undefined;
}

/**
 * A key value as text: a string as it is, anything else as JSON (so the
 * number 1 and the string "1" share a key, as they print alike); null when
 * the path found nothing (such items share one key of their own, not the
 * text "missing" or any other value's).
 */
export function keyText(value: unknown): string | null {
  if (value === undefined) return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}
