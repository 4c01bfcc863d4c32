import assert from "node:assert/strict";
import { Hono } from "hono";
import { describeRoute, generateSpecs } from "hono-openapi";
import { documented } from "./documented.ts";

const DOC = describeRoute({
  operationId: "ping",
  summary: "Ping",
  responses: { 200: { description: "pong" } },
});

Deno.test("documented: the route is described, and runs its handler alone", async () => {
  const app = new Hono();
  app.post("/ping/:name", documented(DOC, (c) => c.json({ pong: true })));
  // One handler on the route: no middleware step before it.
  assert.deepEqual(
    app.routes.map((r) => `${r.method} ${r.path}`),
    ["POST /ping/:name"],
  );
  const res = await app.request("/ping/a", { method: "POST" });
  assert.deepEqual(await res.json(), { pong: true });
  const spec = await generateSpecs(app);
  assert.equal(spec.paths?.["/ping/{name}"]?.post?.operationId, "ping");
});

Deno.test("documented: refuses a middleware that describes nothing", () => {
  assert.throws(
    () => documented(async (_c, next) => await next(), (c) => c.text("x")),
    /not a describeRoute/,
  );
});
