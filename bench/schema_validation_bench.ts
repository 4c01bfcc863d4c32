/**
 * What the linear-time pattern engine costs on ordinary schemas: items
 * validated per second with Ajv's default (native, backtracking) RegExp,
 * as schemas were compiled before, against `compileSchema` (RE2JS for
 * `pattern` and `patternProperties`). Each group runs both on the same
 * items; the native one is the baseline.
 *
 * Run: deno bench -A bench/schema_validation_bench.ts
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { compileSchema } from "../components/repo/compile_schema.ts";

// deno-lint-ignore no-explicit-any
const addFormats = addFormatsModule as unknown as (ajv: any) => void;
const native = new Ajv2020({
  allErrors: true,
  strict: false,
  addUsedSchema: false,
  validateFormats: true,
});
addFormats(native);

const greet = JSON.parse(
  await Deno.readTextFile(
    new URL("../examples/greet/greet.schema.json", import.meta.url),
  ),
);
/** Patterns as schemas commonly use them. */
const order = {
  type: "object",
  properties: {
    id: {
      type: "string",
      pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    },
    email: {
      type: "string",
      pattern: "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
    },
    phone: { type: "string", pattern: "^\\+?[1-9]\\d{1,14}$" },
    sku: { type: "string", pattern: "^[A-Z]{3}-\\d{4,6}$" },
    note: { type: "string", pattern: "^.{0,200}$" },
  },
  patternProperties: { "^x-[a-z]+$": { type: "string" } },
  required: ["id", "email"],
};
const catastrophic = {
  type: "object",
  properties: { name: { type: "string", pattern: "^(a+)+$" } },
};

const ok = {
  id: "123e4567-e89b-12d3-a456-426614174000",
  email: "ada.lovelace@example.com",
  phone: "+14155550123",
  sku: "ABC-12345",
  note: "Leave it at the door, please.",
  "x-source": "web",
};
const bad = { ...ok, email: "not an email", sku: "abc", note: "x".repeat(300) };

const cases: [string, object, unknown[]][] = [
  ["greet (no pattern)", greet, [{ name: "Ada" }, { nom: "Ada" }]],
  ["order (5 patterns + patternProperties)", order, [ok, bad]],
  ["order, long strings", order, [{
    ...ok,
    note: "y".repeat(200),
    "x-trace": "z".repeat(1000),
  }]],
  ["^(a+)+$ on 25 a's and a !", catastrophic, [{
    name: "a".repeat(25) + "!",
  }]],
];

const bytes = (doc: object) => new TextEncoder().encode(JSON.stringify(doc));
for (const [name, schema, items] of cases) {
  const before: ValidateFunction = native.compile(structuredClone(schema));
  const after = compileSchema("bench.json", bytes(schema));
  Deno.bench({
    name: "native RegExp (before)",
    group: name,
    baseline: true,
    fn: () => {
      for (const item of items) before(item);
    },
  });
  Deno.bench({
    name: "RE2JS (after)",
    group: name,
    fn: () => {
      for (const item of items) after(item);
    },
  });
}
