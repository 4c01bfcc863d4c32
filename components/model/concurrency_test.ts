import assert from "node:assert/strict";
import {
  compileKeyPath,
  type ConcurrencyDef,
  keyText,
  keyValueOf,
  MAX_CONCURRENCY,
  MAX_KEY_PATH,
} from "./concurrency.ts";
import { parsePackage } from "./parse_package.ts";
import { diffPackages } from "./package_diff.ts";
import type { JobPackage } from "./job_package.ts";

Deno.test("compileKeyPath: members, indexes and quoted names", () => {
  assert.deepEqual(compileKeyPath("$"), []);
  assert.deepEqual(compileKeyPath("$.customerId"), ["customerId"]);
  assert.deepEqual(compileKeyPath('$.order.lines[0]["s k u"]'), [
    "order",
    "lines",
    0,
    "s k u",
  ]);
  assert.deepEqual(compileKeyPath("$['a\\'b']"), ["a'b"]);
});

Deno.test("compileKeyPath: a bad path says what and where", () => {
  const bad: [string, RegExp][] = [
    ["customerId", /start it with "\$"/],
    ["$.", /expected a member name after "\." at character 2/],
    [
      "$.a[x]",
      /expected an index or a quoted name and "\]" after "\[" at character 4/,
    ],
    ["$.a b", /unexpected " " \(use .*\) at character 4/],
    ["$" + ".a".repeat(40), /more than 32 segments/],
    ["$." + "a".repeat(MAX_KEY_PATH), /characters: at most 256/],
    ["$[12345678901]", /expected an index/],
  ];
  for (const [path, re] of bad) {
    assert.throws(() => compileKeyPath(path), re, path);
  }
});

Deno.test("keyValueOf: what a path finds, and nothing where it finds nothing", () => {
  const item = {
    customerId: "c1",
    n: 7,
    order: { lines: [{ sku: "x" }] },
    nothing: null,
    text: "abc",
  };
  assert.equal(keyValueOf(item, compileKeyPath("$.customerId")), "c1");
  assert.equal(
    keyValueOf(item, compileKeyPath("$.order.lines[0].sku")),
    "x",
  );
  for (
    const missing of [
      "$.absent",
      "$.order.lines[3].sku",
      "$.text.length",
      "$.text[0]",
      "$.nothing",
      "$.order[0]",
      "$.toString",
      "$.__proto__",
    ]
  ) {
    assert.equal(keyValueOf(item, compileKeyPath(missing)), undefined, missing);
  }
  assert.equal(keyValueOf("scalar", compileKeyPath("$.a")), undefined);
  assert.equal(keyText(undefined), null);
  assert.equal(keyText("c1"), "c1");
  assert.equal(keyText(7), "7");
  assert.equal(keyText({ a: 1 }), '{"a":1}');
});

const PKG = (event: string, runtime = "") =>
  `id: p
tenant: acme
queues:
  - id: q
jobs:
  - event:
      id: e
      schema: { id: s, schemaref: any.json }
      supplierqueue: q
      runtime: r
${event}
runtimes:
  - id: r
    moduleref: m.wasm
${runtime}`;

Deno.test("parsePackage: an event's concurrency, short and with a key, and a runtime's", () => {
  const keyed = parsePackage(PKG(
    `      concurrency: { key: "$.customerId", limit: 2 }`,
    "    concurrency: 5",
  ));
  assert.deepEqual(keyed.issues, []);
  assert.deepEqual(keyed.pkg!.jobs[0].event.concurrency, {
    key: "$.customerId",
    limit: 2,
  });
  assert.equal(keyed.pkg!.runtimes[0].concurrency, 5);
  const short = parsePackage(PKG("      concurrency: 3"));
  assert.deepEqual(short.pkg!.jobs[0].event.concurrency, { limit: 3 });
  const none = parsePackage(PKG("      concurrency:"));
  assert.equal(none.pkg!.jobs[0].event.concurrency, undefined);
});

Deno.test("parsePackage: concurrency limits of 0, below 0, 1e9, fractions and bad keys are refused with line and column", () => {
  const cases: [string, string, string, RegExp][] = [
    [
      `      concurrency: { key: "$.c", limit: 0 }`,
      "",
      "jobs[0].event.concurrency.limit",
      /limit 0 is out of range: use 1 to 10000/,
    ],
    [
      `      concurrency: { key: "$.c", limit: 1000000000 }`,
      "",
      "jobs[0].event.concurrency.limit",
      /limit 1000000000 is out of range: use 1 to 10000/,
    ],
    [
      `      concurrency: -1`,
      "",
      "jobs[0].event.concurrency",
      /concurrency -1 is out of range/,
    ],
    [
      `      concurrency: 1.5`,
      "",
      "jobs[0].event.concurrency",
      /a whole number/,
    ],
    [
      `      concurrency: { key: "c", limit: 1 }`,
      "",
      "jobs[0].event.concurrency.key",
      /Invalid concurrency key "c": start it with "\$"/,
    ],
    [
      `      concurrency: { key: "$.c" }`,
      "",
      "jobs[0].event.concurrency.limit",
      /Missing required key "limit"/,
    ],
    [
      `      concurrency: { key: "$.c", limit: 1, by: 2 }`,
      "",
      "jobs[0].event.concurrency.by",
      /by/,
    ],
    [
      `      concurrency: { key: 7, limit: 1 }`,
      "",
      "jobs[0].event.concurrency.key",
      /a string/,
    ],
    ["", "    concurrency: 0", "runtimes[0].concurrency", /out of range/],
    [
      "",
      `    concurrency: ${MAX_CONCURRENCY + 1}`,
      "runtimes[0].concurrency",
      /out of range/,
    ],
  ];
  for (const [event, runtime, path, re] of cases) {
    const source = PKG(event, runtime);
    const { pkg, issues } = parsePackage(source);
    assert.equal(pkg, undefined, path);
    const issue = issues.find((i) => i.path === path);
    assert.ok(issue, `${path}: ${JSON.stringify(issues)}`);
    assert.match(issue.message, re);
    const line = source.split("\n").findIndex((l) =>
      l.includes("concurrency")
    ) + 1;
    assert.equal(issue.line, line, `${path}: line`);
    assert.ok(issue.col > 1);
  }
});

Deno.test("diffPackages: concurrency of an event and of a runtime changed", () => {
  const base = parsePackage(PKG("")).pkg!;
  const pkg = (ev?: ConcurrencyDef, rt?: number) => ({
    package: {
      ...base,
      jobs: [{
        event: { ...base.jobs[0].event, ...(ev && { concurrency: ev }) },
      }],
      runtimes: [{ ...base.runtimes[0], ...(rt && { concurrency: rt }) }],
    } satisfies JobPackage,
    files: {},
  });
  assert.deepEqual(
    diffPackages(pkg(), pkg({ key: "$.c", limit: 1 }, 4)),
    [
      {
        kind: "event",
        op: "changed",
        id: "e",
        fields: [{ field: "concurrency", after: "1 per $.c" }],
      },
      {
        kind: "runtime",
        op: "changed",
        id: "r",
        fields: [{ field: "concurrency", after: 4 }],
      },
    ],
  );
  assert.deepEqual(
    diffPackages(pkg({ limit: 2 }), pkg({ limit: 3 }))[0].fields,
    [{ field: "concurrency", before: "2", after: "3" }],
  );
});
