/**
 * The original platform's own example package (the seed's "Job Definition"
 * example, components/model/_seed_example.ts) as its authors meant it: `ev1`
 * runs, and its result runs `ev1_ok`, whose schema is the same as `ev1`'s.
 * Its `greet.wasm` here is a module that returns a person (tests/jobicolets/
 * echo.wat returns its input): what `schema.json` shared by both events
 * implies. The queue `queue1` its results use is declared, as a deploy
 * requires.
 */
import assert from "node:assert/strict";
import { SEED_EXAMPLE } from "../components/model/_seed_example.ts";
import { type Harness, startHarness } from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";

const PERSON = JSON.stringify({
  type: "object",
  properties: { name: { type: "string" } },
  required: ["name"],
  additionalProperties: false,
});

/** The seed's package with `queue1` declared (and `item` when given). */
function seed(item?: string): string {
  let yaml = SEED_EXAMPLE.replace(
    "queues:\n  - id: queue\n    name: queue\n",
    "queues:\n  - id: queue\n    name: queue\n  - id: queue1\n",
  );
  if (item) {
    yaml = yaml.replace("    result:\n", `    result:\n      item: ${item}\n`);
  }
  return yaml;
}

async function withSeed(fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness({ workers: 1 });
  try {
    await h.upload("m1", "schema.json", PERSON);
    await h.upload("m1", "greet.wasm", await compileWat("echo"));
    await fn(h);
  } finally {
    await h.close();
  }
}

Deno.test("the seed's package chains: ev1 runs, then ev1_ok runs with its result, and knows where it came from", async () => {
  await withSeed(async (h) => {
    const deployed = await h.deploy(seed());
    assert.equal(deployed.version, 1);
    const [id] = await h.send("m1", "ev1", [{ name: "Ada" }]);
    const execs = await h.waitFor(
      "m1",
      (e) => e.some((x) => x.event === "ev1_ok"),
    );
    const ev1 = execs.find((x) => x.event === "ev1")!;
    const ok = execs.find((x) => x.event === "ev1_ok")!;
    assert.equal(ev1.status, "ok");
    assert.equal(ev1.eventId, id);
    // The item ev1_ok ran with is ev1's result, a person again.
    assert.equal(ok.status, "ok");
    assert.equal(ok.result, '{"name":"Ada"}');
    assert.equal(ok.queue, "queue1");
    assert.equal(ok.version, 1);
    assert.deepEqual(ok.chainedFrom, {
      event: "ev1",
      eventId: id,
      executionId: ev1.id,
      code: 0,
    });
    assert.ok(!ev1.logs.some((l) => /not sent/.test(l.message)));
  });
});

Deno.test("the seed's package with item: envelope: a deploy and a dry run warn that ev1_ok can never get it, naming the event and the schema", async () => {
  await withSeed(async (h) => {
    const yaml = seed("envelope");
    const dry = await h.api("/api/v1/packages?dryRun=true", {
      method: "POST",
      body: yaml,
    });
    assert.equal(dry.status, 200);
    const plan = await dry.json();
    assert.deepEqual(
      plan.warnings.map((w: Record<string, string>) => [
        w.event,
        w.of,
        w.result,
        w.schema,
      ]),
      [["ev1_ok", "ev1", "ok", "schema.json"], [
        "ev1_err",
        "ev1",
        "error",
        "schema.json",
      ]],
    );
    assert.match(
      plan.warnings[0].message,
      /^Result event "ev1_ok" \(result\.ok of "ev1"\): schema "schema\.json" can never accept what the chain sends, the envelope \{code, result, source\} of a success \(\/name "name" is required\)/,
    );
    const res = await h.deploy(yaml);
    assert.equal(
      (res as { warnings?: unknown[] }).warnings?.length,
      2,
      "the deploy warns too, and goes ahead",
    );
    // As warned: the envelope is dropped, with a host note saying why.
    await h.send("m1", "ev1", [{ name: "Ada" }]);
    const execs = await h.waitFor(
      "m1",
      (e) =>
        e.some((x) =>
          x.event === "ev1" &&
          x.logs.some((l) => /Result event "ev1_ok" not sent/.test(l.message))
        ),
    );
    assert.ok(!execs.some((x) => x.event === "ev1_ok"));
  });
});

Deno.test("the seed's package by default warns only that ev1_err never receives a failure's reason", async () => {
  await withSeed(async (h) => {
    const dry = await (await h.api("/api/v1/packages?dryRun=true", {
      method: "POST",
      body: seed(),
    })).json();
    assert.deepEqual(
      dry.warnings.map((w: Record<string, string>) => [w.event, w.schema]),
      [["ev1_err", "schema.json"]],
    );
    assert.match(
      dry.warnings[0].message,
      /never accepts the reason a failed execution \(a trap, a limit\) sends, a string/,
    );
    // A schema that takes strings as well: no warning.
    const yaml = seed().replaceAll(
      "schemaref: schema.json\n        supplierqueue: queue1",
      "schemaref: any.json\n        supplierqueue: queue1",
    );
    await h.upload("m1", "any.json", "{}");
    const clean = await (await h.api("/api/v1/packages?dryRun=true", {
      method: "POST",
      body: yaml,
    })).json();
    assert.equal(clean.warnings, undefined, JSON.stringify(clean));
  });
});
