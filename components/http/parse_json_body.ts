/**
 * JSON from tenants, bounded in nesting: `JSON.parse` itself copes with deep
 * input, but what walks the result afterwards (schema validation, KV
 * serialization, `JSON.stringify`) recurses, so a body of 100,000 `[` could
 * overflow the stack far from where it came in. The depth is measured
 * first, by one linear scan of the text that counts brackets outside
 * strings, without recursion and without building anything.
 */
import { ValidationError } from "@jobico/goico";

/** Levels of arrays and objects a JSON body may nest by default. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

export interface JsonNesting {
  /** The deepest nesting of arrays and objects (`[]` is 1, `{"a": []}` 2). */
  depth: number;
  /** Where the nesting first went beyond the limit it was measured against, or -1. */
  offset: number;
}

const QUOTE = 0x22, BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;

/**
 * The nesting depth of JSON text, and the offset of the first bracket
 * deeper than `limit`. Malformed text gets a number too (JSON.parse refuses
 * it afterwards).
 */
export function jsonNesting(
  text: string,
  limit = DEFAULT_MAX_JSON_DEPTH,
): JsonNesting {
  let depth = 0, max = 0, offset = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: to the next quote not escaped by a backslash.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) {
        max = depth;
        if (depth === limit + 1) offset = i;
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return { depth: max, offset };
}

export interface ParseJsonBodyOptions {
  /** Levels of arrays and objects allowed. Default `DEFAULT_MAX_JSON_DEPTH` (64). */
  maxDepth?: number;
}

/**
 * Parses a JSON request body (already read within its size limit and
 * decoded), refusing with a 400 naming `what` when it nests deeper than
 * `maxDepth` or is not JSON.
 */
export function parseJsonBody(
  text: string,
  what: string,
  options: ParseJsonBodyOptions = {},
): unknown {
  const limit = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const { depth, offset } = jsonNesting(text, limit);
  if (depth > limit) {
    throw new ValidationError(
      `${what} nests arrays and objects ${depth} levels deep; the limit is ${limit}`,
      { depth, limit, offset },
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(
      `${what} is not valid JSON: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
}
