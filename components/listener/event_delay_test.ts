import assert from "node:assert/strict";
import type { Step } from "../http/pipeline.ts";
import { eventDelay } from "./event_delay.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { postTo, stepApp } from "./_test_steps.ts";

const NOW = Date.UTC(2026, 11, 3, 12);

/** A last step that answers what eventDelay set. */
const dueAt: Step<ListenerEnv> = (c) =>
  c.json({ dueAt: c.get("dueAt") ?? null });

async function delayed(query: string, maxDelayMs?: number) {
  const app = stepApp({}, eventDelay({ now: () => NOW, maxDelayMs }), dueAt);
  const res = await postTo(app, {}, {}, `/events/demo/greet${query}`);
  return { status: res.status, body: await res.json() };
}

Deno.test("eventDelay sets dueAt from ?delay= or ?runAt=, nothing without them", async () => {
  assert.deepEqual(await delayed(""), { status: 200, body: { dueAt: null } });
  assert.deepEqual(await delayed("?other=1"), {
    status: 200,
    body: { dueAt: null },
  });
  assert.deepEqual((await delayed("?delay=30s")).body, { dueAt: NOW + 30_000 });
  assert.deepEqual((await delayed("?delay=0")).body, { dueAt: null });
  assert.deepEqual(
    (await delayed("?runAt=2026-12-03T14%3A00%3A00%2B01%3A00")).body,
    { dueAt: NOW + 3_600_000 },
  );
  assert.deepEqual(
    (await delayed("?runAt=2026-12-03T12:00:30Z")).body,
    { dueAt: NOW + 30_000 },
  );
});

Deno.test("attack: eventDelay refuses runAt in 1970, in 9999, NaN, under the default and an explicit limit", async () => {
  for (
    const [query, parameter, message, max] of [
      ["?runAt=1970-01-01T00:00:00Z", "runAt", /is in the past/, undefined],
      ["?runAt=9999-12-31T23:59:59Z", "runAt", /too far ahead/, undefined],
      ["?runAt=NaN", "runAt", /Invalid runAt "NaN"/, undefined],
      ["?delay=NaN", "delay", /Invalid delay "NaN"/, undefined],
      ["?delay=31d", "delay", /too long: at most 2592000 s/, undefined],
      ["?delay=2s", "delay", /too long: at most 1 s/, 1000],
      ["?delay=1&runAt=2026-12-03T12:00:00Z", "delay", /not both/, undefined],
    ] as const
  ) {
    const { status, body } = await delayed(query, max);
    assert.equal(status, 400, query);
    assert.match(body.detail, message, query);
    assert.deepEqual(
      body.errors.map((e: { parameter: string }) => e.parameter),
      [parameter],
      query,
    );
  }
});
