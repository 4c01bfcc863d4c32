/**
 * Checks real answers against the platform's OpenAPI document: a request
 * is made of an operation (`"GET /api/v1/tenants/{tenant}"`) and values for
 * its parameters; the answer's status must be one the operation lists, its
 * content type one the status lists, its body valid against that schema
 * (Ajv, JSON Schema 2020-12) and its declared headers valid too. The
 * parameters and JSON body sent are checked against the document as well:
 * what the server accepts, the document must allow.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// deno-lint-ignore no-explicit-any
const addFormats = addFormatsModule as unknown as (ajv: any) => void;

// deno-lint-ignore no-explicit-any
export type Json = any;

const COMPONENTS_ID = "https://jobico.test/openapi/components";
const JSON_TYPES = new Set([
  "application/json",
  "application/problem+json",
  "application/schema+json",
]);

export interface Call {
  /** `METHOD /path/{param}` as in the document. */
  op: string;
  /** Path parameter values (not yet encoded). */
  params?: Record<string, string>;
  /** Query parameters; an array repeats the name. */
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** A label for failure messages. */
  label?: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON, text, or bytes. */
  body: unknown;
  text: string;
  /** Whether every parameter and the JSON body sent pass the document's schemas. */
  requestValid: boolean;
  requestErrors: string[];
}

export class OpenApiChecker {
  readonly ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();
  /** `op status` of every answer checked. */
  readonly seen = new Set<string>();

  constructor(
    readonly spec: Json,
    readonly base: string,
  ) {
    this.ajv = new Ajv2020({
      strict: true,
      allErrors: true,
      allowUnionTypes: true,
    });
    addFormats(this.ajv);
    this.ajv.addSchema({
      $id: COMPONENTS_ID,
      $defs: rewriteRefs(spec.components?.schemas ?? {}),
    });
  }

  /** The operation object of `op`; throws when the document has none. */
  operation(op: string): Json {
    const [method, path] = op.split(" ");
    const o = this.spec.paths?.[path]?.[method.toLowerCase()];
    if (!o) throw new Error(`The document has no operation ${op}`);
    return o;
  }

  /** Follows a `$ref` into the document (`#/components/...`). */
  resolve(obj: Json): Json {
    if (!obj?.$ref) return obj;
    const target = (obj.$ref as string).replace(/^#\//, "").split("/")
      .reduce((o: Json, k: string) => o?.[k], this.spec);
    if (!target) throw new Error(`Unresolved $ref ${obj.$ref}`);
    return this.resolve(target);
  }

  /** A compiled validator of a schema of the document. */
  validator(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let v = this.#validators.get(key);
    if (!v) {
      v = this.ajv.compile(rewriteRefs(schema));
      this.#validators.set(key, v);
    }
    return v;
  }

  /** Errors of `value` against `schema`, as text; empty when valid. */
  errors(schema: Json, value: unknown): string[] {
    const v = this.validator(schema);
    if (v(value)) return [];
    return (v.errors ?? []).map((e) =>
      `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`
    );
  }

  /** The URL of a call, its parameters checked against the document. */
  #request(c: Call): { url: string; errors: string[] } {
    const o = this.operation(c.op);
    const params: Json[] = (o.parameters ?? []).map((p: Json) =>
      this.resolve(p)
    );
    const errors: string[] = [];
    const path = c.op.split(" ")[1].replace(/\{([^}]+)\}/g, (_, name) => {
      const value = c.params?.[name];
      if (value === undefined) {
        throw new Error(`${c.op}: no value for path parameter ${name}`);
      }
      const p = params.find((x) => x.in === "path" && x.name === name);
      if (!p) errors.push(`path parameter ${name} is not described`);
      else {
        errors.push(
          ...this.errors(p.schema, value).map((e) => `${name}: ${e}`),
        );
      }
      return encodeURIComponent(value);
    });
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(c.query ?? {})) {
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) search.append(name, v);
      const p = params.find((x) => x.in === "query" && x.name === name);
      if (!p) {
        errors.push(`query parameter ${name} is not described`);
        continue;
      }
      const typed = p.schema?.type === "array"
        ? values
        : coerce(p.schema, values[0]);
      errors.push(...this.errors(p.schema, typed).map((e) => `${name}: ${e}`));
    }
    for (const [name, value] of Object.entries(c.headers ?? {})) {
      if (/^(authorization|content-type|jobico-signature)$/i.test(name)) {
        continue;
      }
      const p = params.find((x) =>
        x.in === "header" && x.name.toLowerCase() === name.toLowerCase()
      );
      if (!p) errors.push(`header ${name} is not described`);
      else {
        errors.push(
          ...this.errors(p.schema, value).map((e) => `${name}: ${e}`),
        );
      }
    }
    const qs = search.toString();
    return { url: this.base + path + (qs ? `?${qs}` : ""), errors };
  }

  /**
   * Sends a call and checks the answer against the document. `read`
   * replaces reading the body (for streams): it gets the response and
   * returns what was read.
   */
  async call(
    c: Call,
    read?: (res: Response) => Promise<string>,
  ): Promise<Answer> {
    const o = this.operation(c.op);
    const label = c.label ?? c.op;
    const { url, errors: requestErrors } = this.#request(c);
    const contentType = Object.entries(c.headers ?? {}).find(([k]) =>
      k.toLowerCase() === "content-type"
    )?.[1];
    if (typeof c.body === "string" && c.body !== "") {
      const media = contentType?.split(";")[0].trim() ?? "application/json";
      const body = o.requestBody && this.resolve(o.requestBody);
      const schema = body?.content?.[media]?.schema;
      if (!body) requestErrors.push("the operation takes no body");
      else if (!body.content?.[media]) {
        requestErrors.push(`the body's type ${media} is not described`);
      } else if (schema && JSON_TYPES.has(media)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(c.body);
        } catch {
          requestErrors.push("the body is not JSON");
        }
        if (parsed !== undefined) {
          requestErrors.push(
            ...this.errors(schema, parsed).map((e) => `body: ${e}`),
          );
        }
      }
    }
    const res = await fetch(url, {
      method: c.op.split(" ")[0],
      headers: c.headers,
      body: c.body as BodyInit | undefined,
    });
    const type = res.headers.get("content-type")?.split(";")[0].trim() ?? "";
    const text = read ? await read(res) : await res.text();
    const where = `${label}: ${res.status} ${type} ${text.slice(0, 300)}`;
    const key = String(res.status);
    const listed = o.responses?.[key];
    if (!listed) {
      throw new Error(
        `${where}\n  status ${res.status} is not among ${
          Object.keys(o.responses ?? {}).join(", ")
        }`,
      );
    }
    this.seen.add(`${c.op} ${res.status}`);
    const response = this.resolve(listed);
    let body: unknown = text;
    if (response.content) {
      const media = response.content[type];
      if (!media) {
        throw new Error(
          `${where}\n  content type ${type} is not among ${
            Object.keys(response.content).join(", ")
          }`,
        );
      }
      if (JSON_TYPES.has(type)) {
        body = JSON.parse(text);
        const errors = this.errors(media.schema, body);
        if (errors.length) {
          throw new Error(`${where}\n  body: ${errors.join("\n  body: ")}`);
        }
      } else if (media.schema?.type === "string" && !read) {
        // Text and bytes: nothing to check beyond the type.
      }
    } else if (text !== "") {
      throw new Error(`${where}\n  the document says this answer has no body`);
    }
    if (type === "application/problem+json") {
      const status = (body as { status?: number }).status;
      if (status !== res.status) {
        throw new Error(`${where}\n  problem status ${status}`);
      }
    }
    for (const [name, h] of Object.entries(response.headers ?? {})) {
      const value = res.headers.get(name);
      if (value === null) {
        if ((h as Json).required) {
          throw new Error(`${where}\n  header ${name} missing`);
        }
        continue;
      }
      const schema = this.resolve(h).schema;
      const errors = this.errors(schema, coerce(schema, value));
      if (errors.length) {
        throw new Error(`${where}\n  header ${name}: ${errors.join("; ")}`);
      }
    }
    return {
      status: res.status,
      headers: res.headers,
      body,
      text,
      requestValid: requestErrors.length === 0,
      requestErrors,
    };
  }
}

/** A query or header value as the schema's type reads it. */
function coerce(schema: Json, value: string): unknown {
  const type = schema?.type;
  if (
    (type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(value)
  ) {
    return Number(value);
  }
  if (type === "boolean" && (value === "true" || value === "false")) {
    return value === "true";
  }
  return value;
}

/** Points `#/components/schemas/X` at the schema Ajv knows them by. */
function rewriteRefs(schema: Json): Json {
  return JSON.parse(
    JSON.stringify(schema).replaceAll(
      '"$ref":"#/components/schemas/',
      `"$ref":"${COMPONENTS_ID}#/$defs/`,
    ),
  );
}
