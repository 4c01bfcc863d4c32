import assert from "node:assert/strict";
import {
  compileKeyPath,
  durationMs,
  keyText,
  MAX_KEY_TEXT_CHARS,
  valueAt,
} from "./flow_limits.ts";
import { parsePackage } from "./parse_package.ts";
import { diffPackages } from "./package_diff.ts";

/** A package whose first event has `extra` (indented under it) and a result event with `onResult`. */
function pkg(extra: string, onResult = ""): string {
  return `id: p
tenant: acme
queues: [{id: q}]
jobs:
  - event:
      id: work
      schema: {id: s, schemaref: s.json}
      supplierqueue: q
      runtime: r
${extra}
    result:
      ok:
        id: done
        schema: {id: s, schemaref: s.json}
        supplierqueue: q
        runtime: r
${onResult}
runtimes: [{id: r, moduleref: m.wasm}]
`;
}

function issues(source: string) {
  return parsePackage(source).issues.map((i) =>
    [i.path, i.line, i.col, i.message] as const
  );
}

Deno.test("durations: whole numbers with a unit", () => {
  assert.equal(durationMs("500ms"), 500);
  assert.equal(durationMs("30s"), 30_000);
  assert.equal(durationMs("1m"), 60_000);
  assert.equal(durationMs("2h"), 7_200_000);
  assert.equal(durationMs("1d"), 86_400_000);
  for (const bad of ["", "1", "1.5s", "-1s", "1y", "1e3s", "s"]) {
    assert.throws(() => durationMs(bad), /Invalid duration/, bad);
  }
});

Deno.test("key paths: names, indexes and quoted names; the value at them", () => {
  assert.deepEqual(compileKeyPath("$"), []);
  assert.deepEqual(compileKeyPath("$.a.b"), ["a", "b"]);
  assert.deepEqual(compileKeyPath('$.list[2]["odd \\"key\\""]'), [
    "list",
    2,
    'odd "key"',
  ]);
  const item = { a: { b: "x" }, list: [1, 2, { 'odd "key"': 7 }] };
  assert.equal(valueAt(item, compileKeyPath("$.a.b")), "x");
  assert.equal(valueAt(item, compileKeyPath('$.list[2]["odd \\"key\\""]')), 7);
  assert.equal(valueAt(item, compileKeyPath("$.missing.deeper")), undefined);
  assert.equal(valueAt(item, compileKeyPath("$.a[0]")), undefined);
  // Inherited names are not values of the item.
  assert.equal(valueAt({}, compileKeyPath("$.constructor")), undefined);
  assert.equal(valueAt({}, compileKeyPath("$.__proto__")), undefined);
  for (
    const bad of ["a.b", "$a", "$.", "$[x]", "$..a", "$." + "a".repeat(300)]
  ) {
    assert.throws(() => compileKeyPath(bad), Error, bad);
  }
});

Deno.test("key text: strings as they are, others as JSON, long ones by their sha-256", async () => {
  assert.equal(await keyText("c-1"), "c-1");
  assert.equal(await keyText(42), "42");
  assert.equal(await keyText(undefined), "null");
  assert.equal(await keyText({ a: 1 }), '{"a":1}');
  const huge = await keyText("x".repeat(1_000_000));
  assert.match(huge, /^#[0-9a-f]{64}$/);
  assert.equal(
    await keyText({ big: "y".repeat(MAX_KEY_TEXT_CHARS) }),
    await keyText({ big: "y".repeat(MAX_KEY_TEXT_CHARS) }),
  );
  assert.notEqual(
    await keyText("x".repeat(200)),
    await keyText("x".repeat(201)),
  );
});

Deno.test("rateLimit and debounce are read into the package", () => {
  const r = parsePackage(pkg(
    `      rateLimit: {limit: 100, period: 1m, key: $.customerId, mode: reject}`,
  ));
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.pkg!.jobs[0].event.rateLimit, {
    limit: 100,
    period: "1m",
    key: "$.customerId",
    mode: "reject",
  });
  const d = parsePackage(pkg(`      debounce: {period: 5s}`));
  assert.deepEqual(d.issues, []);
  assert.deepEqual(d.pkg!.jobs[0].event.debounce, { period: "5s" });
});

Deno.test("attack: limits 0, -1, 1e9, 1.5; periods 0, 1ms, 10 years: refused at their line and column", () => {
  const cases: [string, string, RegExp][] = [
    [
      "limit: 0, period: 1m",
      "limit",
      /limit 0 is out of range: use 1 to 1000000/,
    ],
    ["limit: -5, period: 1m", "limit", /out of range/],
    ["limit: 1000000000, period: 1m", "limit", /out of range/],
    ["limit: 1.5, period: 1m", "limit", /Expected a whole number/],
    [
      "limit: 10, period: 0s",
      "period",
      /Period "0s" is out of range: use 1 s to 720 h/,
    ],
    ["limit: 10, period: 1ms", "period", /out of range/],
    ["limit: 10, period: 3650d", "period", /out of range/],
    ["limit: 10, period: soon", "period", /Invalid duration "soon"/],
    ["limit: 10, period: 1m, mode: drop", "mode", /Invalid mode "drop"/],
    ["limit: 10, period: 1m, key: customerId", "key", /start it with "\$"/],
  ];
  for (const [fields, key, message] of cases) {
    const source = pkg(`      rateLimit: {${fields}}`);
    const found = issues(source);
    assert.equal(found.length, 1, `${fields}: ${JSON.stringify(found)}`);
    const [path, line, col, text] = found[0];
    assert.equal(path, `jobs[0].event.rateLimit.${key}`, fields);
    assert.equal(line, 10);
    assert.equal(col, 19 + fields.indexOf(`${key}:`) + key.length + 2, fields);
    assert.match(text, message);
  }
  const missing = issues(pkg(`      rateLimit: {period: 1m}`));
  assert.deepEqual(missing.map(([p]) => p), ["jobs[0].event.rateLimit.limit"]);
  for (const period of ["0s", "1ms", "2d"]) {
    const found = issues(pkg(`      debounce: {period: ${period}}`));
    assert.deepEqual(found.map(([p]) => p), ["jobs[0].event.debounce.period"]);
    assert.match(found[0][3], /out of range: use 1 s to 24 h/);
  }
  const keep = issues(pkg(`      debounce: {period: 5s, keep: middle}`));
  assert.match(keep[0][3], /Invalid keep "middle": use "last"/);
});

Deno.test("rateLimit on a result event, on a scheduled event, or with debounce: refused", () => {
  const onResult = issues(pkg(
    "",
    `        rateLimit: {limit: 1, period: 1s}`,
  ));
  assert.deepEqual(onResult.map(([p, l]) => [p, l]), [
    ["jobs[0].result.ok.rateLimit", 17],
  ]);
  assert.match(onResult[0][3], /a result event is sent by the platform/);
  const scheduled = parsePackage(
    pkg(
      `      schedule: "0 * * * *"\n      debounce: {period: 5s}`,
    ),
  ).issues;
  assert.deepEqual(scheduled.map((i) => i.path), ["jobs[0].event.debounce"]);
  assert.match(scheduled[0].message, /does not apply to a scheduled event/);
  const both = parsePackage(
    pkg(
      `      rateLimit: {limit: 1, period: 1s}\n      debounce: {period: 5s}`,
    ),
  ).issues;
  assert.deepEqual(both.map((i) => [i.path, i.line]), [
    ["jobs[0].event.debounce", 11],
  ]);
});

Deno.test("the diff shows a rate limit or debounce added, changed and removed", () => {
  const version = (extra: string) => ({
    package: parsePackage(pkg(extra)).pkg!,
    files: {},
  });
  const none = version("");
  const rl = version(`      rateLimit: {limit: 100, period: 1m, key: $.c}`);
  const rl2 = version(
    `      rateLimit: {limit: 10, period: 1m, key: $.c, mode: reject}`,
  );
  const db = version(`      debounce: {period: 5s, key: $.id, keep: first}`);
  assert.deepEqual(diffPackages(none, rl)[0].fields, [
    { field: "rateLimit", after: "100 per 1m by $.c (throttle)" },
  ]);
  assert.deepEqual(diffPackages(rl, rl2)[0].fields, [
    {
      field: "rateLimit",
      before: "100 per 1m by $.c (throttle)",
      after: "10 per 1m by $.c (reject)",
    },
  ]);
  assert.deepEqual(diffPackages(rl2, db)[0].fields, [
    { field: "rateLimit", before: "10 per 1m by $.c (reject)" },
    { field: "debounce", after: "5s by $.id (keep first)" },
  ]);
  assert.deepEqual(diffPackages(db, db), []);
});
