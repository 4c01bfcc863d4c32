/**
 * Checks a request's values against a schema of the API (api/): the same
 * schema the OpenAPI document shows, compiled once per schema and process
 * (by the route factories, at startup), never per request.
 *
 * The schema decides what passes; the route words what failed from the
 * first {@linkcode ApiIssue}, naming the member (the routes keep their own
 * sentences, which clients and tests know).
 *
 * @module
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { Static, TSchema } from "@sinclair/typebox";

// deno-lint-ignore no-explicit-any
const addFormats = addFormatsModule as unknown as (ajv: any) => void;

/** What is wrong with a value, as the schema says it. */
export interface ApiIssue {
  /** The schema keyword that failed: `type`, `required`, `minimum`, ... */
  keyword: string;
  /** Where, as member names and item indexes from the top (`["retention", "days"]`). */
  path: string[];
  /** The value at `path`. */
  value: unknown;
  /** The member that `required` misses or `additionalProperties` refuses. */
  member?: string;
  /** The schema at `path`: its limits (`minimum`, `maxItems`, `pattern`, ...). */
  schema: Record<string, unknown>;
}

let ajv: Ajv2020 | undefined;
const compiled = new WeakMap<TSchema, ValidateFunction>();

/** A check of values against `schema`. */
export class ApiCheck<S extends TSchema> {
  readonly #validate: ValidateFunction;

  /** Compiles `schema` (once per schema object and process). */
  constructor(readonly schema: S) {
    let validate = compiled.get(schema);
    if (!validate) {
      ajv ??= newAjv();
      validate = ajv.compile(schema);
      compiled.set(schema, validate);
    }
    this.#validate = validate;
  }

  /** Whether `value` passes. */
  test(value: unknown): value is Static<S> {
    return this.#validate(value) === true;
  }

  /** The first issue of `value`; undefined when it passes. */
  issue(value: unknown): ApiIssue | undefined {
    if (this.#validate(value)) return undefined;
    const e = this.#validate.errors![0];
    const path = e.instancePath.split("/").slice(1).map((p) =>
      p.replaceAll("~1", "/").replaceAll("~0", "~")
    );
    let at: unknown = value;
    for (const p of path) at = (at as Record<string, unknown>)[p];
    const member = (e.params as { missingProperty?: string })
      .missingProperty ??
      (e.params as { additionalProperty?: string }).additionalProperty;
    return {
      keyword: e.keyword,
      path,
      value: at,
      ...(member !== undefined && { member }),
      schema: e.parentSchema as Record<string, unknown>,
    };
  }
}

function newAjv(): Ajv2020 {
  const a = new Ajv2020({
    strict: true,
    allowUnionTypes: true,
    // Only the first error is worded: no need to look for more.
    allErrors: false,
    verbose: true,
  });
  addFormats(a);
  return a;
}
