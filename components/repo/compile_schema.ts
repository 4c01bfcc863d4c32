/**
 * Compiles JSON Schemas (draft 2020-12, with formats) with Ajv. A schema is
 * compiled once per content: `SchemaCache` keeps validators by sha-256.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { ValidationError } from "../../goico/mod.ts";

// deno-lint-ignore no-explicit-any
const addFormats = addFormatsModule as unknown as (ajv: any) => void;
const decoder = new TextDecoder("utf-8", { fatal: true });

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: false,
    addUsedSchema: false,
    validateFormats: true,
  });
  addFormats(ajv);
  return ajv;
}

const ajv = newAjv();

/** Parses and compiles a schema file; a clear 400 naming the file when it is not a valid JSON Schema. */
export function compileSchema(
  name: string,
  bytes: Uint8Array,
): ValidateFunction {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new ValidationError(
      `Schema "${name}" is not valid UTF-8 JSON: ${(err as Error).message}`,
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    if (typeof doc !== "boolean") {
      throw new ValidationError(
        `Schema "${name}" must be a JSON object (or a boolean schema)`,
      );
    }
  }
  try {
    return ajv.compile(doc as object);
  } catch (err) {
    throw new ValidationError(
      `Schema "${name}" is not a valid JSON Schema: ${(err as Error).message}`,
    );
  }
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
