/**
 * Hostile tenant input over real HTTP: a body nested 100,000 levels deep,
 * and a schema whose pattern backtracks catastrophically in a native
 * RegExp. Both are answered at once, with a 400 that says why.
 */
import assert from "node:assert/strict";
import { deployGreet, type Harness, startHarness } from "./_harness.ts";

const EVIL_PACKAGE = `
id: evil
tenant: demo
queues:
  - id: evil-q
jobs:
  - event:
      id: evil
      schema:
        id: evil-schema
        schemaref: evil.schema.json
      supplierqueue: evil-q
      runtime: greet-c
runtimes:
  - id: greet-c
    moduleref: greet.wasm
`;

async function post(h: Harness, event: string, body: string) {
  const started = performance.now();
  const res = await h.api(`/events/demo/${event}`, { method: "POST", body });
  const problem = await res.json();
  return { res, problem, ms: performance.now() - started };
}

Deno.test("a body nested 100,000 levels deep is a 400 naming the depth and the limit", async () => {
  const h = await startHarness({ components: ["ctl", "repo", "listener"] });
  try {
    await deployGreet(h);
    const depth = 100_000;
    const body = `{"data": [${"[".repeat(depth)}${"]".repeat(depth)}]}`;
    const { res, problem } = await post(h, "greet", body);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal(
      problem.detail,
      "Event body nests arrays and objects 100002 levels deep; the limit is 64",
    );
    assert.equal(problem.limit, 64);
  } finally {
    await h.close();
  }
});

Deno.test("a tenant's catastrophic pattern does not stall the listener", async () => {
  const h = await startHarness({ components: ["ctl", "repo", "listener"] });
  try {
    await deployGreet(h);
    await h.upload(
      "demo",
      "evil.schema.json",
      JSON.stringify({
        type: "object",
        properties: { name: { type: "string", pattern: "^(a+)+$" } },
      }),
    );
    await h.deploy(EVIL_PACKAGE);
    const item = (name: string) => JSON.stringify({ data: [{ name }] });
    await post(h, "evil", item("aaaa")); // the schema is compiled on first use
    // A native RegExp takes about 2^40 steps on this one: hours.
    const evil = await post(h, "evil", item("a".repeat(40) + "!"));
    assert.equal(evil.res.status, 400);
    assert.match(evil.problem.detail, /must match pattern "\^\(a\+\)\+\$"/);
    let baseline = Infinity;
    for (let i = 0; i < 3; i++) {
      const ok = await post(h, "evil", item("aaaa"));
      assert.equal(ok.res.status, 200);
      baseline = Math.min(baseline, ok.ms);
    }
    assert.ok(
      evil.ms < Math.max(baseline, 1) * 50,
      `the catastrophic item took ${evil.ms} ms, a plain one ${baseline} ms`,
    );
  } finally {
    await h.close();
  }
});

Deno.test("a linear but costly pattern on long strings is cut short: per match by length, per request by time", async () => {
  const h = await startHarness({ components: ["ctl", "repo", "listener"] });
  try {
    await deployGreet(h);
    // About 3000 RE2 instructions: linear, yet 1 MiB of "a" takes RE2JS
    // over a minute to scan.
    const pattern = "(?:a?){1000}a{1000}[0-9]";
    await h.upload(
      "demo",
      "evil.schema.json",
      JSON.stringify({
        type: "object",
        properties: { name: { type: "string", pattern } },
      }),
    );
    await h.deploy(EVIL_PACKAGE);
    const body = (names: string[]) =>
      JSON.stringify({ data: names.map((name) => ({ name })) });
    // One string (60 KB, what fits a queue item) far too long for the
    // pattern: refused before matching.
    const long = await post(h, "evil", body(["a".repeat(60_000)]));
    assert.equal(long.res.status, 400);
    assert.match(
      long.problem.detail,
      /^Item 0 of "data" cannot be checked against schema "evil\.schema\.json": a string of 60000 characters is too long to match against pattern .* \(at most 666\)$/,
    );
    // Many strings each just short enough: 400 matches of ~100 ms each
    // would hold the listener for most of a minute; the request's time
    // budget stops it after a few.
    const many = await post(h, "evil", body(Array(400).fill("a".repeat(660))));
    assert.equal(many.res.status, 400);
    assert.match(many.problem.detail, /matching its patterns took too long/);
    const stoppedAt = Number(/^Item (\d+)/.exec(many.problem.detail)?.[1]);
    assert.ok(stoppedAt > 0 && stoppedAt < 400, many.problem.detail);
    console.log(
      `long string refused in ${long.ms.toFixed(0)} ms; ` +
        `400 costly items stopped at item ${stoppedAt} after ${
          many.ms.toFixed(0)
        } ms`,
    );
    // Nothing of either request was queued.
    const stats = await (await h.api("/api/v1/tenants/demo/queues/evil-q"))
      .json();
    assert.equal(stats.depth, 0);
  } finally {
    await h.close();
  }
});

Deno.test("a package source of 33 KB with one emoji is deployed, not a 500", async () => {
  // V8 stores a string with any character beyond Latin-1 as UTF-16: two
  // bytes per character, so 33 KB of YAML makes a 66 KB KV value.
  const h = await startHarness({ components: ["ctl", "repo"] });
  try {
    await deployGreet(h);
    const job = await Deno.readTextFile(
      new URL("../examples/greet/job.yaml", import.meta.url),
    );
    const res = await h.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: `${job}# 😀 ${"x".repeat(31_000)}\n`,
    });
    const text = await res.text();
    assert.equal(res.status, 201, text);
  } finally {
    await h.close();
  }
});
