import assert from "node:assert/strict";
import type { Step } from "../http/pipeline.ts";
import { eventPriority } from "./event_priority.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { postTo, stepApp } from "./_test_steps.ts";

/** A last step that answers what eventPriority set. */
const priority: Step<ListenerEnv> = (c) =>
  c.json({ priority: c.get("priority") ?? null });

async function sent(query: string) {
  const app = stepApp({}, eventPriority(), priority);
  const res = await postTo(app, {}, {}, `/events/demo/greet${query}`);
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    body: await res.json(),
  };
}

Deno.test("eventPriority sets priority from ?priority=, nothing without it", async () => {
  assert.deepEqual((await sent("")).body, { priority: null });
  assert.deepEqual((await sent("?delay=5s")).body, { priority: null });
  for (const p of ["high", "normal", "low"]) {
    assert.deepEqual(await sent(`?priority=${p}`), {
      status: 200,
      type: "application/json",
      body: { priority: p },
    });
  }
});

Deno.test("attack: eventPriority refuses 1e9, -1, NaN, a misspelling, an empty, a huge and a repeated value with a 400 naming the parameter", async () => {
  const long = "h".repeat(10_000);
  for (
    const [query, message] of [
      ["?priority=1e9", /Invalid priority "1e9": use high, normal, low/],
      ["?priority=-1", /Invalid priority "-1"/],
      ["?priority=NaN", /Invalid priority "NaN"/],
      ["?priority=0", /Invalid priority "0"/],
      ["?priority=hgih", /Invalid priority "hgih"/],
      ["?priority=HIGH", /Invalid priority "HIGH"/],
      ["?priority=high%00", /Invalid priority "high\\u0000"/],
      ["?priority=", /Invalid priority ""/],
      [`?priority=${long}`, /Invalid priority "h{40}…"/],
      ["?priority=high&priority=low", /Pass \?priority= once, not 2 times/],
    ] as const
  ) {
    const res = await sent(query);
    assert.equal(res.status, 400, query.slice(0, 40));
    assert.equal(res.type, "application/problem+json");
    assert.equal(res.body.errors[0].parameter, "priority");
    assert.match(res.body.errors[0].message, message, query.slice(0, 40));
    assert.ok(res.body.detail.length < 200, "the value is cut in the answer");
  }
});
