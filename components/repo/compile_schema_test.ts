import assert from "node:assert/strict";
import { ValidationError } from "@jobico/goico";
import { testPlatform } from "../server/_test_platform.ts";
import {
  compileSchema,
  MAX_SCHEMA_DEPTH,
  MAX_SCHEMA_OBJECTS,
  MAX_SCHEMA_PATTERN_SIZE,
  MAX_SCHEMA_VALUES,
  schemaSize,
} from "./compile_schema.ts";

const json = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
const schemaWith = (pattern: string) =>
  json({
    type: "object",
    properties: { name: { type: "string", pattern } },
    patternProperties: { [pattern.replace("^", "^x-")]: { type: "number" } },
  });

/** Best of three runs of `f`, in ms. */
function time(f: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

Deno.test("a catastrophic pattern validates as fast as a trivial one", () => {
  const catastrophic = compileSchema("evil.json", schemaWith("^(a+)+$"));
  const trivial = compileSchema("plain.json", schemaWith("^a+$"));
  // 40 "a"s and a "!": about 2^40 backtracking steps for a native RegExp.
  const input = "a".repeat(40) + "!";
  const items = [{ name: input }, { [`x-${input.slice(0, 40)}!`]: "no" }];
  for (const validate of [catastrophic, trivial]) {
    assert.equal(validate(items[0]), false);
    assert.equal(validate.errors?.[0].keyword, "pattern");
    assert.equal(validate(items[1]), true); // the key does not match
    assert.equal(validate({ name: "aaaa", "x-aa": 1 }), true);
    assert.equal(validate({ "x-aa": "not a number" }), false);
  }
  const many = (validate: (d: unknown) => boolean) => () => {
    for (let i = 0; i < 2000; i++) validate(items[i % 2]);
  };
  const baseline = time(many(trivial));
  const nested = time(many(catastrophic));
  assert.ok(
    nested < Math.max(baseline, 1) * 20,
    `^(a+)+$: ${nested} ms for 2000 items, ^a+$: ${baseline} ms`,
  );
  // And on a long input, where a native RegExp would never finish.
  const long = { name: "a".repeat(200_000) + "!" };
  const longBaseline = time(() => trivial(long));
  const longNested = time(() => catastrophic(long));
  assert.ok(
    longNested < Math.max(longBaseline, 1) * 20,
    `^(a+)+$: ${longNested} ms, ^a+$: ${longBaseline} ms`,
  );
});

Deno.test("a pattern RE2 cannot run is refused naming the schema and the pattern", () => {
  const cases: [string, Uint8Array, string, RegExp][] = [
    ["backref.json", schemaWith("^(a)\\1$"), "^(a)\\1$", /backreferences/],
    [
      "lookahead.json",
      json({ patternProperties: { "^(?!x-)": true } }),
      "^(?!x-)",
      /lookahead/,
    ],
    [
      "defs.json",
      json({
        $ref: "#/$defs/code",
        $defs: { code: { type: "string", pattern: "(?<=a)b" } },
      }),
      "(?<=a)b",
      /lookbehind/,
    ],
  ];
  for (const [name, bytes, pattern, reason] of cases) {
    assert.throws(
      () => compileSchema(name, bytes),
      (e: Error) => {
        assert.ok(e instanceof ValidationError);
        assert.ok(
          e.message.startsWith(
            `Schema "${name}" has pattern ${
              JSON.stringify(pattern)
            }, which cannot be used: `,
          ),
          e.message,
        );
        assert.match(e.message, reason);
        assert.equal(e.extra.pattern, pattern);
        return true;
      },
    );
  }
});

Deno.test("the patterns of one schema are bounded in total size", () => {
  const properties: Record<string, unknown> = {};
  const count = Math.ceil(MAX_SCHEMA_PATTERN_SIZE / 1000) + 1;
  for (let i = 0; i < count; i++) {
    properties[`p${i}`] = { type: "string", pattern: `^${i}[a-z]{999}$` };
  }
  assert.throws(
    () => compileSchema("big.json", json({ properties })),
    new RegExp(
      `Schema "big\\.json" has patterns too large in total: they compile to more than ${MAX_SCHEMA_PATTERN_SIZE} instructions`,
    ),
  );
  // One large pattern used many times counts once.
  const same = Object.fromEntries(
    Array.from(
      { length: count },
      (_, i) => [`p${i}`, { type: "string", pattern: "^[a-z]{999}$" }],
    ),
  );
  assert.equal(
    compileSchema("same.json", json({ properties: same }))({}),
    true,
  );
});

Deno.test("a deeply nested schema is refused before Ajv walks it", () => {
  let doc: unknown = { type: "string" };
  for (let i = 0; i < 10_000; i++) doc = { items: doc };
  assert.throws(
    () => compileSchema("deep.json", json(doc)),
    /Schema "deep\.json" nests arrays and objects 10001 levels deep; the limit is 128/,
  );
  let ok: unknown = { type: "string" };
  for (let i = 1; i < MAX_SCHEMA_DEPTH; i++) ok = { items: ok };
  assert.equal(compileSchema("ok.json", json(ok))([]), true);
});

Deno.test("formats are still checked", () => {
  const validate = compileSchema(
    "formats.json",
    json({
      properties: {
        email: { format: "email" },
        at: { format: "date-time" },
        re: { format: "regex" },
      },
    }),
  );
  assert.equal(
    validate({ email: "ada@example.com", at: "2024-01-02T03:04:05Z" }),
    true,
  );
  assert.equal(validate({ email: "nope" }), false);
  assert.equal(validate({ at: "yesterday" }), false);
  assert.equal(validate({ re: "(" }), false);
});

Deno.test("validators keep working across many compiles", () => {
  const first = compileSchema("first.json", schemaWith("^b+$"));
  for (let i = 0; i < 250; i++) {
    const v = compileSchema(`s${i}.json`, schemaWith(`^${i}$`));
    assert.equal(v({ name: `${i}` }), true);
  }
  assert.equal(first({ name: "bbb" }), true);
  assert.equal(first({ name: "abc" }), false);
});

/** A schema whose `leaf` (`props` properties) is referenced from `refs` properties. */
const refBomb = (props: number, refs: number) => ({
  type: "object",
  $defs: {
    leaf: {
      type: "object",
      properties: Object.fromEntries(
        Array.from({ length: props }, (_, i) => [`l${i}`, { maxLength: i }]),
      ),
    },
  },
  properties: Object.fromEntries(
    Array.from({ length: refs }, (_, i) => [`r${i}`, { $ref: "#/$defs/leaf" }]),
  ),
});

Deno.test("attack: a schema referenced from many places is compiled once, not once per reference", () => {
  // Inlined, this 14 KB document took 12 s and 737 MB to compile; twice
  // the references ran the process out of memory.
  const doc = refBomb(200, 200);
  assert.ok(schemaSize(doc).schemas <= MAX_SCHEMA_OBJECTS);
  const validate = compileSchema("bomb.json", json(doc));
  // The generated code holds the leaf once: the whole validator's code
  // is far smaller than 200 copies of it.
  const code = validate.toString().length;
  assert.ok(code < 100_000, `the validator's code is ${code} characters`);
  assert.equal(validate({ r0: { l5: "12345" }, r199: { l0: "" } }), true);
  assert.equal(validate({ r199: { l3: "1234" } }), false);
  assert.equal(validate.errors?.[0].instancePath, "/r199/l3");
});

Deno.test("attack: a schema too large to compile in a moment is refused before Ajv sees it, naming the file and the limit", () => {
  const props = (n: number, f: (i: number) => unknown) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, f(i)]));
  const cases: [string, unknown, RegExp][] = [
    // Subschemas, plainly.
    [
      "objects",
      { type: "object", properties: props(MAX_SCHEMA_OBJECTS, () => ({})) },
      new RegExp(
        `more than ${MAX_SCHEMA_OBJECTS} schemas \\(objects and booleans\\); the limit is ${MAX_SCHEMA_OBJECTS}`,
      ),
    ],
    // Boolean schemas are schemas too.
    [
      "booleans",
      { properties: props(MAX_SCHEMA_OBJECTS + 1, () => false) },
      /schemas \(objects and booleans\)/,
    ],
    // Under a property named like a data keyword: still counted.
    [
      "a property named enum",
      {
        properties: {
          enum: {
            properties: props(MAX_SCHEMA_OBJECTS, () => ({ type: "string" })),
          },
        },
      },
      /schemas \(objects and booleans\)/,
    ],
    // Lists of names Ajv writes code for, one by one.
    [
      "dependentRequired",
      {
        dependentRequired: Object.fromEntries(
          Array.from(
            { length: 200 },
            (_, i) => [`k${i}`, Array.from({ length: 20 }, (_, j) => `n${j}`)],
          ),
        ),
      },
      new RegExp(
        `more than ${MAX_SCHEMA_VALUES} values; the limit is ${MAX_SCHEMA_VALUES}`,
      ),
    ],
    // The reference bomb with twice the references.
    ["references", refBomb(400, 800), /schemas/],
  ];
  for (const [label, doc, message] of cases) {
    assert.throws(
      () => compileSchema("big.schema.json", json(doc)),
      (err: unknown) =>
        err instanceof ValidationError &&
        /^Schema "big\.schema\.json" holds more than /.test(err.message) &&
        message.test(err.message) &&
        /split it, or share repeated parts through \$defs and \$ref/.test(
          err.message,
        ),
      label,
    );
  }
  // At the limits, it compiles.
  const atLimit = {
    properties: props(MAX_SCHEMA_OBJECTS - 2, () => ({ type: "string" })),
  };
  assert.equal(schemaSize(atLimit).schemas, MAX_SCHEMA_OBJECTS);
  assert.equal(compileSchema("ok.json", json(atLimit))({ p0: "x" }), true);
  const enumAtLimit = {
    enum: Array.from({ length: MAX_SCHEMA_VALUES - 2 }, (_, i) => i),
  };
  assert.equal(schemaSize(enumAtLimit).values, MAX_SCHEMA_VALUES);
  assert.equal(compileSchema("enum.json", json(enumAtLimit))(7), true);
});

Deno.test("attack: an upload of a schema too large to compile is a 400 problem naming the file; nothing is stored", async () => {
  const p = await testPlatform();
  try {
    const res = await p.app.request(
      "/api/v1/tenants/demo/files/bomb.schema.json",
      { method: "PUT", body: json(refBomb(400, 800)) },
    );
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    assert.match(
      problem.detail,
      new RegExp(
        `^Schema "bomb\\.schema\\.json" holds more than ${MAX_SCHEMA_OBJECTS} schemas`,
      ),
    );
    assert.equal(problem.limit, MAX_SCHEMA_OBJECTS);
    assert.equal(await p.repo.info("demo", "bomb.schema.json"), null);
    const ok = await p.app.request(
      "/api/v1/tenants/demo/files/bomb.schema.json",
      { method: "PUT", body: json(refBomb(200, 200)) },
    );
    assert.equal(ok.status, 201);
  } finally {
    await p.close();
  }
});

Deno.test("an upload with an unsupported pattern is a 400 problem naming the file and the pattern", async () => {
  const p = await testPlatform();
  try {
    const res = await p.app.request(
      "/api/v1/tenants/demo/files/name.schema.json",
      { method: "PUT", body: schemaWith("^(\\w)\\1$") },
    );
    assert.equal(res.status, 400);
    assert.equal(
      res.headers.get("content-type"),
      "application/problem+json",
    );
    const problem = await res.json();
    assert.match(
      problem.detail,
      /^Schema "name\.schema\.json" has pattern "\^\(\\\\w\)\\\\1\$", which cannot be used: backreferences/,
    );
    assert.equal(problem.pattern, "^(\\w)\\1$");
    assert.equal(await p.repo.info("demo", "name.schema.json"), null);
    const ok = await p.app.request(
      "/api/v1/tenants/demo/files/name.schema.json",
      { method: "PUT", body: schemaWith("^(a+)+$") },
    );
    assert.equal(ok.status, 201);
  } finally {
    await p.close();
  }
});
