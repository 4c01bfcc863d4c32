/**
 * The inputs of tests/fuzz_test.ts, one generator per target, each a
 * function of its own `Rng` (see `inputRng`): mutated job packages, event
 * bodies, schemas, and values to validate against accepted schemas.
 */
import {
  aliasBomb,
  JSON_TOKENS,
  lenient,
  mutate,
  randomBytes,
  randomText,
  REGEX_TOKENS,
  type Rng,
  utf8,
  YAML_TOKENS,
} from "./_fuzz_inputs.ts";

const examples = new URL("../examples/greet/", import.meta.url);
export const JOB_YAML = await Deno.readFile(new URL("job.yaml", examples));
const GREET_SCHEMA = await Deno.readFile(
  new URL("greet.schema.json", examples),
);
const RESULT_SCHEMA = await Deno.readFile(
  new URL("result.schema.json", examples),
);

/** A job package: mostly the greet example mutated, or an alias bomb, random bytes or text. */
export function packageInput(r: Rng): string {
  switch (r.int(10)) {
    case 0:
      return aliasBomb(2 + r.int(12), 2 + r.int(12));
    case 1:
      return lenient(randomBytes(r));
    case 2:
      return randomText(r, 2000);
    default:
      return lenient(mutate(r, JOB_YAML, YAML_TOKENS));
  }
}

/** An event body: valid, mutated, deeply nested, near the size and item limits, or junk. */
export function eventBody(r: Rng): Uint8Array {
  const name = () =>
    r.chance(0.7) ? `n${r.int(1000)}` : randomText(r, 120) || "x";
  const valid = () =>
    utf8(JSON.stringify({
      data: Array.from({ length: 1 + r.size(20) }, () => ({ name: name() })),
    }));
  switch (r.int(12)) {
    case 0:
    case 1:
    case 2:
      return valid();
    case 3: {
      const depth = r.size(5000);
      return utf8(
        `{"data": [${"[".repeat(depth)}1${"]".repeat(depth)}]}`,
      );
    }
    case 4: // near and beyond the 1 MiB body limit
      return utf8(JSON.stringify({
        data: [{ name: "a".repeat(1024 * 1024 - 100 + r.int(200)) }],
      }));
    case 5: // near and beyond the 500 items limit, and what one write holds
      return utf8(JSON.stringify({
        data: Array.from(
          { length: (r.chance(0.5) ? 490 : 990) + r.int(20) },
          () => ({ name: "x" }),
        ),
      }));
    case 6:
      return randomBytes(r);
    case 7:
      return utf8(
        r.pick([
          "",
          "null",
          "[]",
          '{"data": []}',
          '{"data": {}}',
          '{"data": null}',
          '{"__proto__": {"data": [1]}}',
          '{"data": [{"name": "\\ud800"}]}',
          '{"data": [{"name": "a\\u0000b"}]}',
          '{"data": [{"name": 1e999}]}',
          '{"data": [{"name": "Ada"}], "data": [{"name": "Bob"}]}',
        ]),
      );
    default:
      return mutate(r, valid(), JSON_TOKENS);
  }
}

/** A schema: the examples mutated, with random patterns, deep, self-referencing, or with many large patterns. */
export function schemaInput(r: Rng): Uint8Array {
  const pattern = () => {
    let p = "";
    for (let n = 1 + r.int(8); n > 0; n--) p += r.pick(REGEX_TOKENS);
    return p;
  };
  switch (r.int(8)) {
    case 0:
    case 1: {
      const doc = JSON.parse(lenient(GREET_SCHEMA));
      doc.properties.name.pattern = pattern();
      if (r.chance(0.5)) doc.patternProperties = { [pattern()]: true };
      if (r.chance(0.3)) {
        doc.properties.name.format = r.pick([
          "email",
          "uri",
          "regex",
          "date-time",
        ]);
      }
      return utf8(JSON.stringify(doc));
    }
    case 2: {
      let doc: unknown = { type: "string", pattern: pattern() };
      for (let n = r.size(400); n > 0; n--) {
        doc = r.chance(0.5) ? { items: doc } : { properties: { a: doc } };
      }
      return utf8(JSON.stringify(doc));
    }
    case 3:
      return utf8(JSON.stringify({
        $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } },
        $ref: r.pick(["#", "#/$defs/a", "#/$defs/missing", "http://x/y"]),
        enum: Array.from({ length: r.size(20_000) }, (_, i) => `v${i}`),
      }));
    case 4:
      return utf8(JSON.stringify({
        properties: Object.fromEntries(
          Array.from(
            { length: r.size(200) },
            (_, i) => [`p${i}`, { pattern: `^${i}[a-z]{${r.int(1000)}}$` }],
          ),
        ),
      }));
    default:
      return mutate(
        r,
        r.chance(0.5) ? GREET_SCHEMA : RESULT_SCHEMA,
        [...JSON_TOKENS, ...REGEX_TOKENS.map((t) => JSON.stringify(t))],
      );
  }
}

/** Strings a validator's patterns and formats meet. */
export function probeValue(r: Rng): unknown {
  const s = r.chance(0.3)
    ? "a".repeat(r.size(10_000)) + r.pick(["", "!", "😀", "\ud800"])
    : randomText(r, 200);
  return r.chance(0.5) ? { name: s, [s]: s } : [s, { a: s }];
}
