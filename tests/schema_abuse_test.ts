/**
 * Schemas that make validation costly or wrong, against a real platform on
 * port 0: the webhook answers a clear 400 quickly (the server keeps
 * serving), and what a schema requires holds. Before: `format: "url"` on
 * long strings held the listener 27 s, `uniqueItems` on 8,500 arrays 6 s,
 * an item of 32,000 wrong values made a 21 MB answer, `$dynamicRef`
 * looping back made every request a 500, "constructor" passed `required`,
 * -1e400 passed `maximum`, and `"$ref": "#"` could not be uploaded.
 */
import assert from "node:assert/strict";
import { startHarness } from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";

async function withSchema(
  schema: unknown,
  fn: (
    send: (items: unknown[]) => Promise<Response>,
    sendRaw: (body: string) => Promise<Response>,
  ) => Promise<void>,
) {
  const h = await startHarness();
  try {
    await h.upload("acme", "echo.wasm", await compileWat("echo"));
    await h.upload("acme", "s.json", JSON.stringify(schema));
    await h.deploy(`
id: p
tenant: acme
queues: [{id: q}]
jobs:
  - event: {id: ev, schema: {id: s, schemaref: s.json}, supplierqueue: q, runtime: r}
runtimes:
  - {id: r, moduleref: echo.wasm}
`);
    const sendRaw = (body: string) =>
      h.api("/events/acme/ev", { method: "POST", body });
    await fn((items) => sendRaw(JSON.stringify({ data: items })), sendRaw);
  } finally {
    await h.close();
  }
}

async function problem(res: Response) {
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  return await res.json();
}

Deno.test("attack: format url on long strings is refused at once: a string past 4096 characters does not match", async () => {
  await withSchema({
    type: "object",
    properties: { u: { type: "string", format: "url" } },
  }, async (send) => {
    const long = { u: "http://" + ":".repeat(64_000) };
    const res = await send(Array(12).fill(long));
    assert.equal(res.status, 400);
    const p = await problem(res);
    assert.match(
      p.detail,
      /^Item 0 of "data" does not match schema "s\.json": \/u must match format "url" \(and 11 more\)$/,
    );
    const ok = await send([{ u: "https://example.com/a?b=c" }]);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    // A well-formed URL past the bound is not checked, so it does not match.
    const past = await send([{ u: "https://example.com/" + "a".repeat(4100) }]);
    assert.equal(past.status, 400);
    assert.match((await problem(past)).detail, /\/u must match format "url"$/);
  });
});

Deno.test("attack: uniqueItems over 8,500 arrays is checked in linear time, and duplicates are named like Ajv names them", async () => {
  await withSchema({
    type: "object",
    properties: { a: { type: "array", uniqueItems: true } },
  }, async (send) => {
    const distinct = Array.from({ length: 8500 }, (_, i) => [i]);
    const res = await send(Array(12).fill({ a: distinct }));
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const dup = await send([{ a: [{ x: 1, y: [2] }, 3, { y: [2], x: 1 }] }]);
    assert.equal(dup.status, 400);
    const p = await problem(dup);
    assert.deepEqual(p.errors, [{
      item: 0,
      path: "/a",
      message: "must NOT have duplicate items (items ## 2 and 0 are identical)",
    }]);
  });
});

Deno.test("attack: 384,000 schema errors in one request: 100 listed, the count given", async () => {
  await withSchema({
    type: "object",
    properties: { a: { type: "array", items: { type: "string" } } },
  }, async (send) => {
    const res = await send(Array(12).fill({ a: Array(32_000).fill(0) }));
    assert.equal(res.status, 400);
    const text = await res.text();
    assert.ok(text.length < 100_000, `${text.length} bytes`);
    const p = JSON.parse(text);
    assert.equal(p.errors.length, 100);
    assert.equal(p.errorCount, 384_000);
    assert.match(p.detail, /\(and 383999 more\)$/);
  });
});

Deno.test("attack: a schema that refers back to itself without end is refused at upload; where only some data loops, that item is a 400, not a 500", async () => {
  const h = await startHarness();
  try {
    for (
      const loop of [
        {
          $dynamicAnchor: "n",
          $ref: "#/$defs/x",
          $defs: { x: { $dynamicRef: "#n" } },
        },
        { $ref: "#" },
      ]
    ) {
      const res = await h.api("/api/v1/tenants/acme/files/loop.json", {
        method: "PUT",
        body: JSON.stringify(loop),
      });
      assert.equal(res.status, 400);
      assert.match(
        (await problem(res)).detail,
        /^Schema "loop\.json" refers back to itself without end: checking null against it never finishes$/,
      );
    }
  } finally {
    await h.close();
  }
  // Only an item with "loop" loops: the schema uploads, that item is refused.
  await withSchema({
    type: "object",
    if: { type: "object", required: ["loop"] },
    then: { $ref: "#" },
  }, async (send) => {
    const ok = await send([{ fine: 1 }]);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const res = await send([{ fine: 1 }, { loop: 1 }]);
    assert.equal(res.status, 400);
    assert.equal(
      (await problem(res)).detail,
      'Item 1 of "data" cannot be checked against schema "s.json": the schema refers back to itself without end',
    );
  });
});

Deno.test("schemas: required sees own members only; 1e400 is not a number; a root may refer to itself as #", async () => {
  await withSchema({
    type: "object",
    required: ["constructor", "amount"],
    properties: {
      amount: { type: "number", maximum: 100 },
      n: { type: "integer" },
      children: { type: "array", items: { $ref: "#" } },
    },
  }, async (send, sendRaw) => {
    const missing = await send([{ amount: 5 }]);
    assert.equal(missing.status, 400);
    assert.match(
      (await problem(missing)).detail,
      /\/constructor "constructor" is required$/,
    );
    // 1e400 parses to Infinity: not a number JSON can carry (it would
    // reach the module as null).
    for (
      const [body, path] of [
        ['{"data":[{"constructor":1,"amount":-1e400}]}', "/amount"],
        ['{"data":[{"constructor":1,"amount":1,"n":1e400}]}', "/n"],
      ]
    ) {
      const inf = await sendRaw(body);
      assert.equal(inf.status, 400, body);
      assert.equal((await problem(inf)).errors[0].path, path);
    }
    const ok = await send([{
      constructor: 1,
      amount: 5,
      children: [{ constructor: 2, amount: 1, children: [] }],
    }]);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const bad = await send([{
      constructor: 1,
      amount: 5,
      children: [{ amount: 1 }],
    }]);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  });
});
