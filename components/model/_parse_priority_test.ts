import assert from "node:assert/strict";
import { parsePackage } from "./parse_package.ts";
import { diffPackages } from "./package_diff.ts";
import type { JobPackage } from "./job_package.ts";
import type { Priority } from "@jobico/goico";

const PKG = (event: string) =>
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
`;

Deno.test("parsePackage: an event's priority high, normal or low; absent or empty is none", () => {
  for (const p of ["high", "normal", "low"]) {
    const { pkg, issues } = parsePackage(PKG(`      priority: ${p}`));
    assert.deepEqual(issues, []);
    assert.equal(pkg!.jobs[0].event.priority, p);
  }
  for (const none of ["", "      priority:"]) {
    const { pkg, issues } = parsePackage(PKG(none));
    assert.deepEqual(issues, []);
    assert.equal(pkg!.jobs[0].event.priority, undefined);
  }
});

Deno.test("parsePackage: a priority misspelled, a number, 1e9, -1, NaN or a list is refused with line and column", () => {
  const cases: [string, RegExp][] = [
    [
      "hgih",
      /Invalid priority "hgih": use "high", "normal" \(the default\) or "low"/,
    ],
    ["HIGH", /Invalid priority "HIGH"/],
    ["1", /Invalid priority \(got an integer\)/],
    ["1e9", /Invalid priority \(got a number\)|\(got an integer\)/],
    ["-1", /Invalid priority \(got an integer\)/],
    [".nan", /Invalid priority \(got a number\)/],
    ["[high]", /Invalid priority \(got a list\)/],
    ["{ level: high }", /Invalid priority \(got a mapping\)/],
    ["true", /Invalid priority \(got a boolean\)/],
  ];
  for (const [value, re] of cases) {
    const source = PKG(`      priority: ${value}`);
    const { pkg, issues } = parsePackage(source);
    assert.equal(pkg, undefined, value);
    const issue = issues.find((i) => i.path === "jobs[0].event.priority");
    assert.ok(issue, `${value}: ${JSON.stringify(issues)}`);
    assert.match(issue.message, re, value);
    const line = source.split("\n").findIndex((l) => l.includes("priority")) +
      1;
    assert.equal(issue.line, line, `${value}: line`);
    assert.equal(issue.col, 17, `${value}: column of the value`);
  }
});

Deno.test("diffPackages: an event's priority changed (none counts as normal)", () => {
  const base = parsePackage(PKG("")).pkg!;
  const pkg = (priority?: Priority) => ({
    package: {
      ...base,
      jobs: [{
        event: { ...base.jobs[0].event, ...(priority && { priority }) },
      }],
    } satisfies JobPackage,
    files: {},
  });
  assert.deepEqual(diffPackages(pkg(), pkg("high")), [{
    kind: "event",
    op: "changed",
    id: "e",
    fields: [{ field: "priority", before: "normal", after: "high" }],
  }]);
  assert.deepEqual(diffPackages(pkg("high"), pkg("low"))[0], {
    kind: "event",
    op: "changed",
    id: "e",
    fields: [{ field: "priority", before: "high", after: "low" }],
  });
  // Declaring the default changes nothing.
  assert.deepEqual(diffPackages(pkg(), pkg("normal")), []);
});
