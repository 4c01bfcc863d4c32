import assert from "node:assert/strict";
import { Hono } from "hono";
import { pipeline, type Step } from "./pipeline.ts";

type Env = { Variables: { trail: string[] } };

function app(...steps: Step<Env>[]) {
  const errors: string[] = [];
  const hono = new Hono<Env>();
  hono.onError((err, c) => {
    errors.push(err.message);
    return c.text(err.message, 500);
  });
  hono.post("/x", pipeline(...steps));
  return { hono, errors };
}

const mark = (name: string): Step<Env> =>
  function mark(c, next) {
    c.set("trail", [...(c.get("trail") ?? []), name]);
    return next();
  };

Deno.test("pipeline runs the steps in order; a step answers itself or with what the next answers", async () => {
  const { hono } = app(
    mark("a"),
    async function wraps(_c, next) {
      const res = await next();
      res.headers.set("x-wrapped", "yes");
      return res;
    },
    mark("b"),
    (c) => c.json(c.get("trail")),
  );
  const res = await hono.request("/x", { method: "POST" });
  assert.deepEqual(await res.json(), ["a", "b"]);
  assert.equal(res.headers.get("x-wrapped"), "yes");
  let reached = false;
  const early = app((c) => c.text("early", 202), () => {
    reached = true;
    return new Response();
  });
  const answered = await early.hono.request("/x", { method: "POST" });
  assert.equal(answered.status, 202);
  assert.equal(reached, false);
});

Deno.test("pipeline: an error of a later step reaches the steps before it, and the app's onError once", async () => {
  const caught: string[] = [];
  const catching = (answer: boolean): Step<Env> =>
    async function catching(c, next) {
      try {
        return await next();
      } catch (err) {
        caught.push((err as Error).message);
        if (answer) return c.text("recovered", 200);
        throw err;
      }
    };
  const thrower: Step<Env> = function thrower() {
    throw new Error("refused"); // thrown, not returned: a sync step
  };
  const recovered = app(catching(true), thrower);
  const res = await recovered.hono.request("/x", { method: "POST" });
  assert.equal(await res.text(), "recovered");
  assert.deepEqual(recovered.errors, []);
  const passed = app(catching(false), catching(false), thrower);
  const failed = await passed.hono.request("/x", { method: "POST" });
  assert.equal(failed.status, 500);
  assert.deepEqual(passed.errors, ["refused"]);
  assert.deepEqual(caught, ["refused", "refused", "refused"]);
});

Deno.test("pipeline: a last step that passes on instead of answering is an error naming it", async () => {
  const { hono, errors } = app(mark("a"), mark("b"));
  const res = await hono.request("/x", { method: "POST" });
  assert.equal(res.status, 500);
  assert.deepEqual(errors, ["The last step (mark) did not answer"]);
});
