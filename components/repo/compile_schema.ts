/**
 * Compiles JSON Schemas (draft 2020-12, with formats) with Ajv. A schema is
 * compiled once per content: `SchemaCache` keeps validators by sha-256.
 *
 * Schemas are tenant input, so compiling and validating are bounded:
 * `pattern` and `patternProperties` run on a linear-time engine
 * (`compileLinearRegExp`; a pattern it cannot run is refused naming it), the
 * patterns of one schema are bounded in total size, the document in nesting,
 * and Ajv instances are replaced now and then because each keeps every
 * schema it ever compiled.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { fullFormats } from "ajv-formats/dist/formats.js";
import { ValidationError } from "@jobico/goico";
import { jsonNesting } from "../http/parse_json_body.ts";
import {
  checkPatternDeadline,
  compileLinearRegExp,
  isEndlessSchema,
  type LinearRegExp,
  quotePattern,
  UnsupportedPatternError,
} from "./linear_regexp.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Longest string a `format` is checked on; a longer one does not match.
 * ajv-formats' expressions backtrack: `url` on 64,000 characters took
 * about 2 s, so 12 such items held the listener 27 s.
 */
export const MAX_FORMAT_CHARS = 4096;

/** Levels of arrays and objects a schema document may nest. */
export const MAX_SCHEMA_DEPTH = 128;
/** Compiled size (RE2 instructions) of all the distinct patterns of one schema. */
export const MAX_SCHEMA_PATTERN_SIZE = 20_000;
/**
 * Schemas (objects and booleans) one schema document may hold. Ajv spends
 * about 0.3 ms of the main isolate compiling each (0.6 for a pattern
 * property), so this bounds a compile to about a fifth of a second. Every object and boolean of the
 * document counts, data in `enum` or `examples` too: a property may be
 * named `enum`, so skipping keywords by name would let schemas through
 * uncounted.
 */
export const MAX_SCHEMA_OBJECTS = 500;
/**
 * JSON values of any kind one schema document may hold: some keywords make
 * Ajv write code for each string of a list (`dependentRequired`: about
 * 0.1 ms each), and those lists hold no objects.
 */
export const MAX_SCHEMA_VALUES = 2_500;
/** Compiles per Ajv instance: each keeps what it compiled, so a fresh one bounds the memory. */
const COMPILES_PER_AJV = 100;

class PatternBudgetError extends Error {}

/** Ajv with the linear-time pattern engine; compiles one schema at a time (compiling is synchronous). */
class SchemaCompiler {
  #ajv: Ajv2020 | undefined;
  #compiles = 0;
  #roots = 0;
  /** The distinct patterns of the schema being compiled, and their total size. */
  #patterns = new Map<string, LinearRegExp>();
  #patternSize = 0;

  compile(doc: unknown): ValidateFunction {
    if (!this.#ajv || this.#compiles++ >= COMPILES_PER_AJV) {
      this.#ajv = this.#newAjv();
      this.#compiles = 1;
    }
    this.#patterns.clear();
    this.#patternSize = 0;
    try {
      // A root without an $id has none to resolve "#" against when Ajv
      // keeps no registry (addUsedSchema: false): give it one of its own.
      const root = doc !== null && typeof doc === "object" &&
          !Object.hasOwn(doc, "$id")
        ? { ...doc, $id: `urn:jobico:schema:${++this.#roots}` }
        : doc;
      return this.#ajv.compile(root as object);
    } finally {
      this.#patterns.clear();
    }
  }

  #pattern = (pattern: string): LinearRegExp => {
    let re = this.#patterns.get(pattern);
    if (!re) {
      re = compileLinearRegExp(pattern);
      this.#patternSize += re.programSize();
      if (this.#patternSize > MAX_SCHEMA_PATTERN_SIZE) {
        throw new PatternBudgetError();
      }
      this.#patterns.set(pattern, re);
    }
    return re;
  };

  #newAjv(): Ajv2020 {
    const ajv = new Ajv2020({
      allErrors: true,
      // Not strict: strict mode would also test patternProperties against
      // the schema's property names with the native (backtracking) engine.
      strict: false,
      addUsedSchema: false,
      // `required` and friends see only the item's own members: with the
      // default, "constructor" or "toString" counted as present.
      ownProperties: true,
      // NaN and ±Infinity (1e400 in the JSON) are not numbers: they would
      // reach the Jobicolet as null.
      strictNumbers: true,
      // Each $ref a function of its own: inlined, a schema referenced from
      // many places was generated once per place (a 14 KB schema took 12 s
      // and 737 MB to compile, a 30 KB one ran the process out of memory).
      inlineRefs: false,
      validateFormats: true,
      code: {
        regExp: Object.assign((p: string) => this.#pattern(p), {
          code: "linearRegExp",
        }),
      },
    });
    for (const [name, format] of Object.entries(fullFormats)) {
      ajv.addFormat(name, boundedFormat(format));
    }
    // Ajv compares every pair of items (quadratic); this compares each
    // item's canonical JSON with those seen (linear), under the deadline.
    ajv.removeKeyword("uniqueItems");
    ajv.addKeyword({
      keyword: "uniqueItems",
      type: "array",
      schemaType: "boolean",
      errors: true,
      validate: uniqueItems,
    });
    return ajv;
  }
}

type FormatTest = (value: string) => boolean;
// deno-lint-ignore no-explicit-any
type FormatDefinition = any;

/**
 * A format of ajv-formats that checks no string longer than
 * MAX_FORMAT_CHARS and stops at the validation's deadline.
 */
function boundedFormat(format: FormatDefinition): FormatDefinition {
  const wrap = (test: FormatTest): FormatTest => (value) => {
    checkPatternDeadline();
    if (typeof value === "string" && value.length > MAX_FORMAT_CHARS) {
      return false;
    }
    return test(value);
  };
  if (format instanceof RegExp) return wrap((v) => format.test(v));
  if (typeof format === "function") return wrap(format);
  if (format && typeof format === "object" && !format.async) {
    const v = format.validate;
    if (format.type && format.type !== "string") return format;
    return {
      ...format,
      validate: v instanceof RegExp ? wrap((x) => v.test(x)) : wrap(v),
    };
  }
  return format;
}

/** A JSON value's text with object members in key order: equal values, equal text. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const o = value as Record<string, unknown>;
  return `{${
    Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")
  }}`;
}

interface KeywordCheck {
  (schema: boolean, data: unknown[]): boolean;
  errors?: {
    keyword: string;
    message: string;
    params: Record<string, number>;
  }[];
}

/** `uniqueItems`, in linear time, with Ajv's own error. */
const uniqueItems = ((schema: boolean, data: unknown[]): boolean => {
  uniqueItems.errors = [];
  if (!schema || !Array.isArray(data)) return true;
  checkPatternDeadline();
  const seen = new Map<string, number>();
  for (let j = 0; j < data.length; j++) {
    const key = canonical(data[j]);
    const i = seen.get(key);
    if (i !== undefined) {
      uniqueItems.errors = [{
        keyword: "uniqueItems",
        message:
          `must NOT have duplicate items (items ## ${j} and ${i} are identical)`,
        params: { i: j, j: i },
      }];
      return false;
    }
    seen.set(key, j);
  }
  return true;
}) as KeywordCheck;

const compiler = new SchemaCompiler();

/** Parses and compiles a schema file; a clear 400 naming the file when it is not a valid JSON Schema. */
export function compileSchema(
  name: string,
  bytes: Uint8Array,
): ValidateFunction {
  let doc: unknown;
  try {
    const text = decoder.decode(bytes);
    const { depth } = jsonNesting(text, MAX_SCHEMA_DEPTH);
    if (depth > MAX_SCHEMA_DEPTH) {
      throw new ValidationError(
        `Schema "${name}" nests arrays and objects ${depth} levels deep; the limit is ${MAX_SCHEMA_DEPTH}`,
        { depth, limit: MAX_SCHEMA_DEPTH },
      );
    }
    doc = JSON.parse(text);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(
      `Schema "${name}" is not valid UTF-8 JSON: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  const size = schemaSize(doc);
  if (size.schemas > MAX_SCHEMA_OBJECTS || size.values > MAX_SCHEMA_VALUES) {
    const [what, limit] = size.schemas > MAX_SCHEMA_OBJECTS
      ? ["schemas (objects and booleans)", MAX_SCHEMA_OBJECTS]
      : ["values", MAX_SCHEMA_VALUES];
    throw new ValidationError(
      `Schema "${name}" holds more than ${limit} ${what}; the limit is ${limit}: split it, or share repeated parts through $defs and $ref`,
      { limit, schemas: size.schemas, values: size.values },
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    if (typeof doc !== "boolean") {
      throw new ValidationError(
        `Schema "${name}" must be a JSON object (or a boolean schema)`,
      );
    }
  }
  let validate: ValidateFunction;
  try {
    validate = compiler.compile(doc);
  } catch (err) {
    if (err instanceof UnsupportedPatternError) {
      throw new ValidationError(
        `Schema "${name}" has pattern ${
          quotePattern(err.pattern)
        }, which cannot be used: ${err.reason}`,
        { pattern: err.pattern, reason: err.reason },
        { cause: err },
      );
    }
    if (err instanceof PatternBudgetError) {
      throw new ValidationError(
        `Schema "${name}" has patterns too large in total: they compile to more than ${MAX_SCHEMA_PATTERN_SIZE} instructions`,
        { limit: MAX_SCHEMA_PATTERN_SIZE },
        { cause: err },
      );
    }
    throw new ValidationError(
      `Schema "${name}" is not a valid JSON Schema: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  // A reference back to the root that consumes nothing ("$ref": "#" at
  // the top, a $dynamicRef loop) recurses on every value: found here on
  // a few, and refused, instead of failing every event. (A loop that only
  // some data reaches is a 400 for that item at the webhook.)
  for (const probe of [null, true, 0, "", [], {}]) {
    try {
      validate(probe);
    } catch (err) {
      if (isEndlessSchema(err)) {
        throw new ValidationError(
          `Schema "${name}" refers back to itself without end: checking ${
            JSON.stringify(probe)
          } against it never finishes`,
          {},
          { cause: err },
        );
      }
      throw err;
    }
  }
  return validate;
}

/** Validators by schema content hash; each schema is compiled once. */
export class SchemaCache {
  readonly #validators = new Map<string, ValidateFunction>();
  constructor(private readonly load: (sha256: string) => Promise<Uint8Array>) {}

  async get(sha256: string, name: string): Promise<ValidateFunction> {
    let v = this.#validators.get(sha256);
    if (!v) {
      v = compileSchema(name, await this.load(sha256));
      this.#validators.set(sha256, v);
    }
    return v;
  }
}

/**
 * What a schema document holds (see `MAX_SCHEMA_OBJECTS` and
 * `MAX_SCHEMA_VALUES`): its objects and booleans, and its values of any
 * kind (array elements and object members, and the document). The
 * document's nesting is bounded before this runs, so the recursion is.
 */
export function schemaSize(doc: unknown): { schemas: number; values: number } {
  let schemas = 0, values = 0;
  const walk = (x: unknown): void => {
    values++;
    if (typeof x === "boolean") schemas++;
    if (typeof x !== "object" || x === null) return;
    if (Array.isArray(x)) {
      for (const v of x) walk(v);
      return;
    }
    schemas++;
    for (const k in x) walk((x as Record<string, unknown>)[k]);
  };
  walk(doc);
  return { schemas, values };
}
