import assert from "node:assert/strict";
import { parsePackage, type ParsePackageOptions } from "./parse_package.ts";
import type { FileKind, PackageIssue } from "./job_package.ts";
import { SEED_EXAMPLE } from "./_seed_example.ts";

const FILES = new Map<string, FileKind>([
  ["schema.json", "schema"],
  ["greet.wasm", "wasm"],
]);
const withFiles: ParsePackageOptions = { fileKind: (name) => FILES.get(name) };

/** The 1-based line of the `nth` occurrence of `needle` in `source`. */
function lineOf(source: string, needle: string, nth = 0): number {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = source.indexOf(needle, at + 1);
  assert.ok(at >= 0, `${needle} not found`);
  return source.slice(0, at).split("\n").length;
}

/** How long `f` takes, in ms. */
function timeOf(f: () => void): number {
  const started = performance.now();
  f();
  return performance.now() - started;
}

function only(issues: PackageIssue[], path: string): PackageIssue {
  const found = issues.filter((issue) => issue.path === path);
  assert.equal(
    found.length,
    1,
    `one issue at ${path}: ${JSON.stringify(issues, null, 1)}`,
  );
  return found[0];
}

const VALID = `id: pkg1
name: A package
tenant: acme
queues:
  - id: q1
    name: first queue
  - id: q2
jobs:
  - event:
      id: ev1
      name: an event
      schema:
        id: s1
        schemaref: schema.json
      supplierqueue: q1
      runtime: r1
  - event:
      id: ev2
      datatype: 0
      schema: { id: s2, name: the schema, schemaref: schema.json }
      supplierqueue: q2
      runtime: r1
    result:
      ok:
        id: ev2_ok
        schema: { id: s2, schemaref: schema.json }
        supplierqueue: q2
        runtime: r1
runtimes:
  - id: r1
    moduleref: greet.wasm
    mainfuncname: ""
  - id: r2
    name: second
    moduleref: greet.wasm
    mainfuncname: run
    type: 0
`;

const VALID_PKG = {
  id: "pkg1",
  name: "A package",
  tenant: "acme",
  queues: [{ id: "q1", name: "first queue" }, { id: "q2" }],
  jobs: [
    {
      event: {
        id: "ev1",
        name: "an event",
        datatype: 0,
        schema: { id: "s1", schemaref: "schema.json" },
        supplierqueue: "q1",
        runtime: "r1",
      },
    },
    {
      event: {
        id: "ev2",
        datatype: 0,
        schema: { id: "s2", name: "the schema", schemaref: "schema.json" },
        supplierqueue: "q2",
        runtime: "r1",
      },
      result: {
        ok: {
          id: "ev2_ok",
          datatype: 0,
          schema: { id: "s2", schemaref: "schema.json" },
          supplierqueue: "q2",
          runtime: "r1",
        },
      },
    },
  ],
  runtimes: [
    { id: "r1", moduleref: "greet.wasm", mainfuncname: "event", type: 0 },
    {
      id: "r2",
      name: "second",
      moduleref: "greet.wasm",
      mainfuncname: "run",
      type: 0,
    },
  ],
};

Deno.test("a valid package is normalized", () => {
  const { pkg, issues } = parsePackage(VALID, withFiles);
  assert.deepEqual(issues, []);
  assert.deepEqual(pkg, VALID_PKG);
  assert.equal("result" in pkg!.jobs[0], false);
});

Deno.test("file references are not checked without fileKind", () => {
  const source = VALID.replaceAll("schema.json", "nope.json");
  assert.deepEqual(parsePackage(source).issues, []);
  assert.equal(parsePackage(source, withFiles).issues.length, 3);
});

Deno.test("JSON input works", () => {
  const { pkg, issues } = parsePackage(
    JSON.stringify(VALID_PKG, null, 2),
    withFiles,
  );
  assert.deepEqual(issues, []);
  assert.deepEqual(pkg, VALID_PKG);
});

Deno.test("JSON input reports positions", () => {
  const source = JSON.stringify(
    { ...VALID_PKG, tenant: ["x"], extra: 1 },
    null,
    2,
  );
  const { pkg, issues } = parsePackage(source, withFiles);
  assert.equal(pkg, undefined);
  const tenant = only(issues, "tenant");
  assert.equal(tenant.message, 'Expected a string for "tenant", got a list');
  assert.equal(tenant.line, lineOf(source, '"tenant"'));
  assert.equal(tenant.col, 13);
  const extra = only(issues, "extra");
  assert.equal(extra.message, 'Unknown key "extra" at the top level');
  assert.deepEqual([extra.line, extra.col], [lineOf(source, '"extra"'), 3]);
});

Deno.test("the seed example is refused: queue1 is not declared", () => {
  const { pkg, issues } = parsePackage(SEED_EXAMPLE, withFiles);
  assert.equal(pkg, undefined);
  const message =
    'Queue "queue1" is not declared in queues (declared: "queue")';
  assert.deepEqual(issues, [
    {
      kind: "reference",
      path: "jobs[0].result.ok.supplierqueue",
      message,
      line: 27,
      col: 24,
    },
    {
      kind: "reference",
      path: "jobs[0].result.error.supplierqueue",
      message,
      line: 37,
      col: 24,
    },
  ]);
  assert.equal(lineOf(SEED_EXAMPLE, "supplierqueue: queue1", 0), 27);
  assert.equal(lineOf(SEED_EXAMPLE, "supplierqueue: queue1", 1), 37);
});

Deno.test("the seed example is accepted once queue1 is declared", () => {
  const source = SEED_EXAMPLE.replace(
    "    name: queue\n",
    "    name: queue\n  - id: queue1\n",
  );
  const { pkg, issues } = parsePackage(source, withFiles);
  assert.deepEqual(issues, []);
  assert.equal(pkg?.tenant, "m1");
  assert.deepEqual(pkg?.queues, [{ id: "queue", name: "queue" }, {
    id: "queue1",
  }]);
  assert.deepEqual(pkg?.jobs[0].result?.error, {
    name: "ev1_err",
    id: "ev1_err",
    datatype: 0,
    schema: { id: "sche1", name: "sche1", schemaref: "schema.json" },
    supplierqueue: "queue1",
    runtime: "runtime1",
  });
  assert.deepEqual(pkg?.runtimes, [{
    id: "runtime1",
    name: "greet.wasm",
    moduleref: "greet.wasm",
    mainfuncname: "event",
    type: 0,
  }]);
});

Deno.test("unknown keys are reported at the key", () => {
  const source = VALID.replace("      name: an event\n", "      foo: 1\n")
    .replace("tenant: acme\n", "tenant: acme\nbar: 2\n");
  const { issues } = parsePackage(source, withFiles);
  assert.equal(issues.length, 2);
  assert.deepEqual(only(issues, "jobs[0].event.foo"), {
    kind: "structure",
    path: "jobs[0].event.foo",
    message: 'Unknown key "foo" in jobs[0].event',
    line: lineOf(source, "foo: 1"),
    col: 7,
  });
  assert.equal(
    only(issues, "bar").message,
    'Unknown key "bar" at the top level',
  );
});

Deno.test("missing required keys are all reported, at the parent mapping", () => {
  const source = VALID.replace("tenant: acme\n", "")
    .replace("        schemaref: schema.json\n", "")
    .replace("      supplierqueue: q1\n", "")
    .replace("  - id: r2\n    name: second\n", "  - name: second\n");
  const { issues } = parsePackage(source, withFiles);
  assert.equal(issues.length, 4, JSON.stringify(issues));
  const tenant = only(issues, "tenant");
  assert.equal(
    tenant.message,
    'Missing required key "tenant" at the top level',
  );
  assert.deepEqual([tenant.line, tenant.col], [1, 1]);
  const ref = only(issues, "jobs[0].event.schema.schemaref");
  assert.equal(
    ref.message,
    'Missing required key "schemaref" in jobs[0].event.schema',
  );
  assert.deepEqual([ref.line, ref.col], [lineOf(source, "id: s1"), 9]);
  const queue = only(issues, "jobs[0].event.supplierqueue");
  assert.equal(
    queue.message,
    'Missing required key "supplierqueue" in jobs[0].event',
  );
  assert.deepEqual([queue.line, queue.col], [lineOf(source, "id: ev1"), 7]);
  assert.equal(
    only(issues, "runtimes[1].id").message,
    'Missing required key "id" in runtimes[1]',
  );
});

Deno.test("an empty document is refused", () => {
  for (const source of ["", "# nothing\n"]) {
    const { issues } = parsePackage(source);
    assert.deepEqual(issues, [{
      kind: "structure",
      path: "",
      message: "Expected a mapping at the top level, got nothing",
      line: 1,
      col: 1,
    }]);
  }
  assert.equal(
    parsePackage("- 1\n").issues[0].message,
    "Expected a mapping at the top level, got a list",
  );
});

Deno.test("wrong types are reported", () => {
  const source = VALID.replace("tenant: acme", "tenant: [a, b]")
    .replace("name: A package", "name: 3")
    .replace("      datatype: 0\n", '      datatype: "0"\n')
    .replace("    result:\n", "    result: under-construction\n    x:\n")
    .replace("  - id: q2\n", "  - [q2]\n");
  const { issues } = parsePackage(source, withFiles);
  const messages = issues.map((issue) => `${issue.path}: ${issue.message}`);
  assert.deepEqual(messages, [
    'name: Expected a string for "name", got an integer',
    'tenant: Expected a string for "tenant", got a list',
    'queues[1]: Expected a mapping for "queues[1]", got a list',
    'jobs[1].event.datatype: Expected an integer for "jobs[1].event.datatype", got a string',
    // q2 is no longer declared.
    'jobs[1].event.supplierqueue: Queue "q2" is not declared in queues (declared: "q1")',
    'jobs[1].result: Expected a mapping for "jobs[1].result", got a string',
    'jobs[1].x: Unknown key "x" in jobs[1]',
  ]);
  assert.equal(issues[1].line, 3);
  assert.equal(issues[1].col, 9);
});

Deno.test("lists must be lists and not empty", () => {
  const source = VALID.replace(/queues:\n( {2}.*\n)+/, "queues: []\n")
    .replace(/runtimes:\n( {2}.*\n)+/, "runtimes: {}\n");
  const { issues } = parsePackage(source);
  assert.equal(
    only(issues, "queues").message,
    'Expected at least one entry in "queues"',
  );
  assert.equal(
    only(issues, "runtimes").message,
    'Expected a list for "runtimes", got a mapping',
  );
});

Deno.test("duplicate ids and keys are reported", () => {
  const source = VALID.replace("  - id: q2\n", "  - id: q1\n  - id: q2\n")
    .replace("  - id: r2\n", "  - id: r1\n")
    .replace("        id: ev2_ok\n", "        id: ev1\n")
    .replace(
      "      name: an event\n",
      "      name: an event\n      name: again\n",
    );
  const { issues } = parsePackage(source, withFiles);
  assert.deepEqual(
    issues.map((issue) => [issue.path, issue.message, issue.line]),
    [
      [
        "queues[1].id",
        'Duplicate queue id "q1" (also declared at queues[0].id, line 5)',
        7,
      ],
      ["jobs[0].event.name", 'Duplicate key "name" in jobs[0].event', 13],
      [
        "jobs[1].result.ok.id",
        'Duplicate event id "ev1" (also declared at jobs[0].event.id, line 11)',
        lineOf(source, "id: ev1", 1),
      ],
      [
        "runtimes[1].id",
        `Duplicate runtime id "r1" (also declared at runtimes[0].id, line ${
          lineOf(source, "id: r1")
        })`,
        lineOf(source, "id: r1", 1),
      ],
    ],
  );
});

Deno.test("a file name may be as long as an upload's (128), an id 64", () => {
  const long = "g".repeat(100) + ".wasm";
  const source = VALID.replace(
    "    moduleref: greet.wasm\n",
    `    moduleref: ${long}\n`,
  );
  const { issues } = parsePackage(source, {
    fileKind: (name) => name === long ? "wasm" : FILES.get(name),
  });
  assert.deepEqual(issues, []);
  const tooLong = parsePackage(
    VALID.replace(
      "    moduleref: greet.wasm\n",
      `    moduleref: ${"g".repeat(129)}\n`,
    ),
    withFiles,
  );
  assert.match(
    only(tooLong.issues, "runtimes[0].moduleref")?.message ?? "",
    /^Invalid file name "g+\.\.\.": use 1 to 128 letters/,
  );
});

Deno.test("ids and file names must be safe", () => {
  const source = VALID.replace("tenant: acme", "tenant: ../x")
    .replace("  - id: q2\n", '  - id: "a b"\n')
    .replace(
      "    moduleref: greet.wasm\n    mainfuncname: run",
      "    moduleref: /wasm/greet.wasm\n    mainfuncname: run",
    )
    .replace("id: pkg1", `id: ${"x".repeat(65)}`);
  const { issues } = parsePackage(source, withFiles);
  const rule =
    'use 1 to 64 letters, digits, ".", "_" and "-", starting with a letter or digit';
  assert.equal(
    only(issues, "tenant").message,
    `Invalid tenant "../x": ${rule}`,
  );
  assert.equal(
    only(issues, "queues[1].id").message,
    `Invalid queue id "a b": ${rule}`,
  );
  assert.equal(
    only(issues, "runtimes[1].moduleref").message,
    'Invalid file name "/wasm/greet.wasm": use 1 to 128 letters, digits, ".", "_" and "-", starting with a letter or digit',
  );
  assert.match(only(issues, "id").message, /^Invalid package id "x{65}": /);
  // References to the badly named queue are reported too.
  assert.equal(
    only(issues, "jobs[1].event.supplierqueue").message,
    'Queue "q2" is not declared in queues (declared: "q1")',
  );
});

Deno.test("datatype and runtime type must be 0", () => {
  const source = VALID.replace("datatype: 0", "datatype: 1")
    .replace("    type: 0\n", "    type: 2\n");
  const { issues } = parsePackage(source, withFiles);
  assert.deepEqual(issues.map((issue) => issue.message), [
    "Unsupported datatype 1: only 0 (JSON) is supported",
    "Unsupported type 2: only 0 (wasm) is supported",
  ]);
  assert.equal(issues[0].path, "jobs[1].event.datatype");
  assert.equal(issues[0].line, lineOf(source, "datatype: 1"));
  assert.equal(issues[0].col, 17);
});

Deno.test("mainfuncname must be a function name", () => {
  const source = VALID.replace("mainfuncname: run", "mainfuncname: 1run");
  const { issues } = parsePackage(source);
  assert.equal(issues.length, 1);
  assert.equal(issues[0].path, "runtimes[1].mainfuncname");
  assert.match(issues[0].message, /^Invalid mainfuncname "1run": /);
});

Deno.test("runtime limits and retries are read and bounded", () => {
  const source = VALID.replace(
    "    mainfuncname: run\n",
    "    mainfuncname: run\n    limits: { timeoutms: 250, memorymb: 16, fuel: 1e6 }\n    retries: 0\n",
  );
  const { pkg, issues } = parsePackage(source, withFiles);
  assert.deepEqual(issues, []);
  assert.deepEqual(pkg?.runtimes[1].limits, {
    timeoutms: 250,
    memorymb: 16,
    fuel: 1_000_000,
  });
  assert.equal(pkg?.runtimes[1].retries, 0);
  assert.equal(pkg?.runtimes[0].limits, undefined);
  assert.equal(pkg?.runtimes[0].retries, undefined);

  const bad = VALID.replace(
    "    mainfuncname: run\n",
    "    mainfuncname: run\n    limits: { timeoutms: 0, memorymb: 2.5, fuel: lots, cpu: 1 }\n    retries: 11\n",
  );
  const out = parsePackage(bad, withFiles);
  assert.equal(out.pkg, undefined);
  assert.deepEqual(out.issues.map((i) => [i.path, i.message]), [
    [
      "runtimes[1].limits.timeoutms",
      "timeoutms 0 is out of range: use 1 to 60000",
    ],
    [
      "runtimes[1].limits.memorymb",
      'Expected a whole number for "runtimes[1].limits.memorymb", got a number',
    ],
    [
      "runtimes[1].limits.fuel",
      'Expected a whole number for "runtimes[1].limits.fuel", got a string',
    ],
    ["runtimes[1].limits.cpu", 'Unknown key "cpu" in runtimes[1].limits'],
    ["runtimes[1].retries", "retries 11 is out of range: use 0 to 10"],
  ]);
  assert.equal(out.issues[0].line, lineOf(bad, "timeoutms: 0"));
  assert.equal(out.issues[4].line, lineOf(bad, "retries: 11"));
});

Deno.test("the platform's ceilings bound declared limits", () => {
  const source = VALID.replace(
    "    mainfuncname: run\n",
    "    mainfuncname: run\n    limits: { memorymb: 64 }\n",
  );
  const maxLimits = {
    timeoutMs: 1000,
    memoryMb: 32,
    fuel: 1e6,
    outputKb: 64,
    retries: 2,
  };
  const { issues } = parsePackage(source, { ...withFiles, maxLimits });
  assert.deepEqual(issues.map((i) => i.message), [
    "memorymb 64 is out of range: use 1 to 32",
  ]);
});

Deno.test("file references must be uploaded files of the right kind", () => {
  const source = VALID.replace(
    "schemaref: schema.json\n",
    "schemaref: missing.json\n",
  )
    .replace(
      "{ id: s2, name: the schema, schemaref: schema.json }",
      "{ id: s2, schemaref: greet.wasm }",
    )
    .replace("    mainfuncname: run", "    mainfuncname: run")
    .replace(
      "  - id: r2\n    name: second\n    moduleref: greet.wasm",
      "  - id: r2\n    name: second\n    moduleref: schema.json",
    );
  const { issues } = parsePackage(source, withFiles);
  assert.deepEqual(
    issues.map((issue) => [issue.kind, issue.path, issue.message]),
    [
      [
        "reference",
        "jobs[0].event.schema.schemaref",
        'No file named "missing.json" was uploaded for the tenant (expected a schema file)',
      ],
      [
        "reference",
        "jobs[1].event.schema.schemaref",
        'File "greet.wasm" is a wasm file, expected a schema file',
      ],
      [
        "reference",
        "runtimes[1].moduleref",
        'File "schema.json" is a schema file, expected a wasm file',
      ],
    ],
  );
  assert.equal(issues[1].line, lineOf(source, "schemaref: greet.wasm"));
});

Deno.test("references are checked even with structure issues elsewhere", () => {
  const source = VALID.replace("supplierqueue: q1", "supplierqueue: nope")
    .replace("runtime: r1\n  - event", "runtime: r9\n  - event")
    .replace("tenant: acme", "tenant: [acme]");
  const { issues } = parsePackage(source, withFiles);
  assert.deepEqual(issues.map((issue) => [issue.kind, issue.path]), [
    ["structure", "tenant"],
    ["reference", "jobs[0].event.supplierqueue"],
    ["reference", "jobs[0].event.runtime"],
  ]);
  assert.equal(
    issues[2].message,
    'Runtime "r9" is not declared in runtimes (declared: "r1", "r2")',
  );
});

Deno.test("YAML syntax errors are reported with their position", () => {
  const source = "id: x\ntenant: [a, b\nqueues: 1\n";
  const { pkg, issues } = parsePackage(source);
  assert.equal(pkg, undefined);
  assert.ok(issues.length >= 1);
  assert.ok(issues.every((issue) => issue.kind === "syntax"));
  assert.deepEqual([issues[0].line, issues[0].col], [3, 1]);
  assert.doesNotMatch(issues[0].message, /\.$/);
  assert.deepEqual(parsePackage("id: x\ntenant: @x\n").issues, [{
    kind: "syntax",
    path: "",
    message: "Plain value cannot start with reserved character @",
    line: 2,
    col: 9,
  }]);
});

Deno.test("an alias bomb is refused quickly", () => {
  const lines = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
  }
  const source = `${lines.join("\n")}\n`;
  const started = performance.now();
  const { pkg, issues } = parsePackage(source);
  assert.ok(performance.now() - started < 1000);
  assert.equal(pkg, undefined);
  const bomb = issues.find((issue) =>
    issue.message.startsWith("Too many aliases")
  );
  assert.deepEqual(bomb, {
    kind: "structure",
    path: "",
    message: "Too many aliases: at most 50 are allowed",
    // The 51st alias: 9 on each of lines 2 to 6, then the 6th of line 7.
    line: 7,
    col: 23,
  });
});

Deno.test("deep nesting is refused at the first collection too deep, without recursion", () => {
  const tooDeep = (line: number, col: number): PackageIssue => ({
    kind: "structure",
    path: "",
    message: "Too deeply nested: lists and mappings may nest at most 32 levels",
    line,
    col,
  });
  const baseline = Math.max(1, timeOf(() => parsePackage(VALID)));
  const cases: [string, PackageIssue][] = [
    ["[".repeat(10_000), tooDeep(1, 33)],
    ["[".repeat(60_000) + "]".repeat(60_000), tooDeep(1, 33)],
    ["{a: ".repeat(10_000), tooDeep(1, 129)],
    ["- ".repeat(20_000) + "x", tooDeep(1, 65)],
    ["? ".repeat(20_000) + "x", tooDeep(1, 65)],
    [`id: x\nname:\n${"  - ".repeat(40)}x\n`, tooDeep(3, 127)],
    [
      Array.from({ length: 40 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n"),
      tooDeep(33, 33),
    ],
  ];
  for (const [source, issue] of cases) {
    let out: ReturnType<typeof parsePackage> | undefined;
    const ms = timeOf(() => out = parsePackage(source, { maxBytes: 1 << 20 }));
    assert.deepEqual(out, { issues: [issue] }, source.slice(0, 40));
    assert.ok(ms < baseline * 100, `${ms} ms, a valid package ${baseline} ms`);
  }
  // 32 levels are fine: the walk reports the value, not the depth.
  const deepest = `name: ${"[".repeat(31)}${"]".repeat(31)}\n`;
  const { issues } = parsePackage(VALID.replace(/^name: .*\n/m, deepest));
  assert.deepEqual(issues.map((i) => i.message), [
    'Expected a string for "name", got a list',
  ]);
});

Deno.test("aliases are never expanded, even as YAML 1.1 merge keys", () => {
  const lines = ["%YAML 1.1", "---", "a0: &a0 {x: 1, y: 2}"];
  for (let i = 1; i < 40; i++) {
    lines.push(`a${i}: &a${i} {<<: [*a${i - 1}], k${i}: *a${i - 1}}`);
  }
  const source = lines.join("\n") + "\n";
  let out: ReturnType<typeof parsePackage> | undefined;
  const ms = timeOf(() => out = parsePackage(source));
  assert.ok(ms < 1000, `${ms} ms`);
  assert.equal(out?.pkg, undefined);
  assert.ok(
    out?.issues.some((i) => i.message === 'Unknown key "a0" at the top level'),
  );
});

Deno.test("at most 100 issues are listed, the last one counting the rest", () => {
  const source = "id: x\ntenant: t\nqueues:\n" +
    "  - {id: q, zz: 1}\n".repeat(1000);
  const { issues } = parsePackage(source);
  assert.equal(issues.length, 100);
  // 2 missing keys, 1000 unknown keys "zz", 999 duplicate ids "q": 99 listed.
  assert.deepEqual(issues[99], {
    kind: "structure",
    path: "queues[49].id",
    message: "1902 more issues, from here on, are not listed",
    line: 53,
    col: 10,
  });
});

Deno.test("reading stops after 100 tokens out of place", () => {
  const baseline = Math.max(1, timeOf(() => parsePackage(VALID)));
  const source = "id: x\n" + "]".repeat(50_000);
  let out: ReturnType<typeof parsePackage> | undefined;
  const ms = timeOf(() => out = parsePackage(source));
  assert.ok(ms < baseline * 100, `${ms} ms, a valid package ${baseline} ms`);
  assert.equal(out?.issues.length, 100);
  assert.deepEqual(out?.issues[0], {
    kind: "syntax",
    path: "",
    message: 'Unexpected flow-seq-end token in YAML stream: "]"',
    line: 2,
    col: 1,
  });
});

Deno.test("a few aliases are fine, unknown ones are syntax errors", () => {
  const source = VALID.replace(
    "      schema:\n        id: s1\n",
    "      schema: &s\n        id: s1\n",
  ).replace("schema: { id: s2, schemaref: schema.json }", "schema: *s");
  const { pkg, issues } = parsePackage(source, withFiles);
  assert.deepEqual(issues, []);
  assert.deepEqual(pkg?.jobs[1].result?.ok?.schema, {
    id: "s1",
    schemaref: "schema.json",
  });
  const unknown = parsePackage("id: *nope\n").issues;
  assert.deepEqual(unknown, [{
    kind: "syntax",
    path: "",
    message: 'Unknown alias "*nope": no anchor of that name before it',
    line: 1,
    col: 5,
  }]);
});

Deno.test("more than one document is refused", () => {
  const { pkg, issues } = parsePackage(`${VALID}---\nid: other\n`, withFiles);
  assert.equal(pkg, undefined);
  assert.deepEqual(issues, [{
    kind: "structure",
    path: "",
    message: "Expected a single document, found more than one",
    line: VALID.split("\n").length,
    col: 1,
  }]);
});

Deno.test("integer ids are coerced to strings", () => {
  const source = `id: 12345
tenant: 56789
queues:
  - id: 1
    name: high-priority-queue
  - id: 007
jobs:
  - event:
      name: user-registration
      id: 6789
      datatype: 0
      schema:
        id: 9876
        name: user-registration-schema
        schemaref: schema.json
      supplierqueue: 1
      runtime: 1
runtimes:
  - id: 1
    name: wasm-runtime
    moduleref: greet.wasm
    mainfuncname: main
    type: 0
`;
  const { pkg, issues } = parsePackage(source, withFiles);
  assert.deepEqual(issues, []);
  assert.equal(pkg?.id, "12345");
  assert.equal(pkg?.tenant, "56789");
  assert.deepEqual(pkg?.queues.map((queue) => queue.id), ["1", "007"]);
  assert.deepEqual(pkg?.jobs[0].event, {
    name: "user-registration",
    id: "6789",
    datatype: 0,
    schema: {
      id: "9876",
      name: "user-registration-schema",
      schemaref: "schema.json",
    },
    supplierqueue: "1",
    runtime: "1",
  });
  assert.equal(pkg?.runtimes[0].id, "1");
  const float = parsePackage(source.replace("id: 12345", "id: 1.5")).issues;
  assert.equal(float[0].message, 'Expected a string for "id", got a number');
});

Deno.test("sources larger than maxBytes are refused", () => {
  const { pkg, issues } = parsePackage(VALID, { maxBytes: 100 });
  assert.equal(pkg, undefined);
  assert.deepEqual(issues, [{
    kind: "structure",
    path: "",
    message:
      `Package is too large: ${VALID.length} bytes, at most 100 are allowed`,
    line: 1,
    col: 1,
  }]);
  // Bytes, not characters.
  const wide = VALID.replace("A package", "é".repeat(60));
  const bytes = new TextEncoder().encode(wide).length;
  assert.equal(parsePackage(wide, { maxBytes: bytes }).issues.length, 0);
  assert.equal(parsePackage(wide, { maxBytes: bytes - 1 }).issues.length, 1);
  assert.equal(parsePackage(`id: ${"x".repeat(300 * 1024)}`).issues.length, 1);
});

Deno.test("empty optional values are left out", () => {
  const source = VALID.replace("name: A package", "name:")
    .replace("    result:\n      ok:", "    result: {}\n    x_ok:")
    .replace(/ {4}x_ok:\n( {8}.*\n)+/, "")
    .replace('    mainfuncname: ""\n', "");
  const { pkg, issues } = parsePackage(source);
  assert.deepEqual(issues, []);
  assert.equal("name" in pkg!, false);
  assert.equal("result" in pkg!.jobs[1], false);
  assert.equal(pkg!.runtimes[0].mainfuncname, "event");
});

Deno.test("issues on an alias point at the alias", () => {
  const source = VALID.replace("name: A package", "name: &l [x]")
    .replace("  - id: q2\n", "  - id: *l\n");
  const { issues } = parsePackage(source);
  const id = only(issues, "queues[1].id");
  assert.equal(id.message, 'Expected a string for "queues[1].id", got a list');
  assert.deepEqual([id.line, id.col], [7, 9]);
  assert.equal(only(issues, "name").line, 2);
});

Deno.test("an event's auth is read when present, on results too", () => {
  const source = VALID.replace(
    "      name: an event\n",
    "      name: an event\n      auth: hmac\n",
  ).replace(
    "        id: ev2_ok\n",
    "        id: ev2_ok\n        auth: public\n",
  ).replace("      datatype: 0\n", "      datatype: 0\n      auth: token\n");
  const { pkg, issues } = parsePackage(source, withFiles);
  assert.deepEqual(issues, []);
  assert.equal(pkg?.jobs[0].event.auth, "hmac");
  assert.equal(pkg?.jobs[1].event.auth, "token");
  assert.equal(pkg?.jobs[1].result?.ok?.auth, "public");

  // Absent (or empty) stays absent: the default is "token".
  const plain = parsePackage(
    VALID.replace(
      "      name: an event\n",
      "      name: an event\n      auth:\n",
    ),
    withFiles,
  );
  assert.deepEqual(plain.issues, []);
  assert.deepEqual(plain.pkg, VALID_PKG);
  assert.equal("auth" in plain.pkg!.jobs[0].event, false);
});

Deno.test("an invalid auth names the value and the allowed ones", () => {
  const source = VALID.replace(
    "      name: an event\n",
    "      name: an event\n      auth: HMAC-SHA256\n",
  ).replace(
    "        id: ev2_ok\n",
    "        id: ev2_ok\n        auth: [token]\n",
  );
  const { pkg, issues } = parsePackage(source, withFiles);
  assert.equal(pkg, undefined);
  const bad = only(issues, "jobs[0].event.auth");
  assert.equal(bad.kind, "structure");
  assert.equal(
    bad.message,
    'Invalid auth "HMAC-SHA256": use "token" (the default), "hmac" or "public"',
  );
  assert.deepEqual([bad.line, bad.col], [lineOf(source, "auth: HMAC"), 13]);
  const list = only(issues, "jobs[1].result.ok.auth");
  assert.equal(
    list.message,
    'Expected a string for "jobs[1].result.ok.auth", got a list',
  );
  assert.deepEqual([list.line, list.col], [
    lineOf(source, "auth: [token]"),
    15,
  ]);
  assert.equal(issues.length, 2);
});

Deno.test("auth is read from JSON packages too", () => {
  const json = structuredClone(VALID_PKG) as Record<string, unknown> & {
    jobs: { event: Record<string, unknown> }[];
  };
  json.jobs[0].event.auth = "public";
  const { pkg, issues } = parsePackage(JSON.stringify(json), withFiles);
  assert.deepEqual(issues, []);
  assert.equal(pkg?.jobs[0].event.auth, "public");
  json.jobs[0].event.auth = true;
  const out = parsePackage(JSON.stringify(json, null, 2), withFiles);
  assert.deepEqual(out.issues.map((i) => [i.path, i.message]), [[
    "jobs[0].event.auth",
    'Expected a string for "jobs[0].event.auth", got a boolean',
  ]]);
});

Deno.test("result.item: result or envelope, absent when not said; anything else is an issue at the value", () => {
  const base = SEED_EXAMPLE.replace(
    "    name: queue\n",
    "    name: queue\n  - id: queue1\n",
  );
  assert.equal(
    parsePackage(base, withFiles).pkg?.jobs[0].result?.item,
    undefined,
  );
  for (const item of ["result", "envelope"]) {
    const source = base.replace(
      "    result:\n",
      `    result:\n      item: ${item}\n`,
    );
    const { pkg, issues } = parsePackage(source, withFiles);
    assert.deepEqual(issues, []);
    assert.equal(pkg?.jobs[0].result?.item, item);
  }
  const bad = base.replace(
    "    result:\n",
    "    result:\n      item: wrapper\n",
  );
  const { pkg, issues } = parsePackage(bad, withFiles);
  assert.equal(pkg, undefined);
  assert.deepEqual(issues, [{
    kind: "structure",
    path: "jobs[0].result.item",
    message:
      'Invalid item "wrapper": use "result" (the default: the result itself) or "envelope" ({code, result, source})',
    line: lineOf(bad, "item: wrapper"),
    col: 13,
  }]);
});
