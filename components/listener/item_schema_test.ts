import assert from "node:assert/strict";
import { itemSchema } from "./item_schema.ts";
import { postTo, seen, stepApp, stepWorld } from "./_test_steps.ts";

/** A package of demo whose event "evil" takes items of `evil.schema.json`. */
const EVIL_PACKAGE = `
id: evil
tenant: demo
queues: [{ id: evil-q }]
jobs:
  - event:
      id: evil
      schema: { id: evil-schema, schemaref: evil.schema.json }
      supplierqueue: evil-q
      runtime: greet-c
runtimes: [{ id: greet-c, moduleref: greet.wasm }]
`;

Deno.test("itemSchema passes items that match and lists every error of every item that does not", async () => {
  const w = await stepWorld();
  try {
    const check = async (items: unknown[]) => {
      const app = stepApp({ route: w.route, items }, itemSchema(), seen);
      const res = await postTo(app, "");
      return { status: res.status, body: await res.json() };
    };
    assert.equal((await check([{ name: "A" }, { name: "B" }])).status, 200);
    const bad = await check([{ name: "ok" }, {}, { name: "", extra: 1 }]);
    assert.equal(bad.status, 400);
    assert.match(
      bad.body.detail,
      /^Item 1 of "data" does not match schema "greet\.schema\.json": .* \(and 2 more\)$/,
    );
    assert.deepEqual(
      bad.body.errors.map((e: { item: number; path: string }) => [
        e.item,
        e.path,
      ]),
      [[1, "/name"], [2, "/extra"], [2, "/name"]],
    );
  } finally {
    await w.close();
  }
});

Deno.test("itemSchema: a tenant's costly patterns cannot hold the listener past the request's deadline", async () => {
  const w = await stepWorld();
  try {
    // Linear (RE2), but about 3000 steps per character.
    const pattern = "(?:a?){1000}a{1000}[0-9]";
    await w.repo.put(
      "demo",
      "evil.schema.json",
      new TextEncoder().encode(JSON.stringify({
        type: "object",
        properties: { name: { type: "string", pattern } },
      })),
    );
    await w.store.deploy(EVIL_PACKAGE);
    const route = await w.definitions.route("demo", "evil");
    assert.ok(route);
    const items = Array(400).fill({ name: "a".repeat(660) });
    const app = stepApp(
      { route, items },
      itemSchema({ validationMs: 50 }),
      seen,
    );
    const started = performance.now();
    const res = await postTo(app, "");
    const ms = performance.now() - started;
    assert.equal(res.status, 400);
    const problem = await res.json();
    assert.match(
      problem.detail,
      /^Item (\d+) of "data" cannot be checked against schema "evil\.schema\.json": .*took too long/,
    );
    const at = Number(/^Item (\d+)/.exec(problem.detail)![1]);
    assert.ok(at < 400, problem.detail);
    assert.deepEqual(problem.errors, [{
      item: at,
      path: "",
      message: problem.errors[0].message,
    }]);
    // 400 items at ~100 ms each would take most of a minute.
    assert.ok(ms < 20_000, `${ms} ms`);
  } finally {
    await w.close();
  }
});
