import assert from "node:assert/strict";
import { GroupCommit } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import { BacklogGauge } from "./backlog_gauge.ts";
import { backpressure } from "./backpressure.ts";
import { enqueueEvents } from "./enqueue_events.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { postTo, stepApp, stepWorld } from "./_test_steps.ts";

const item = (name: string) => [{ name }];

Deno.test("backpressure admits while the queue has room and refuses with 429, Retry-After and the backlog after", async () => {
  const w = await stepWorld();
  try {
    const gauge = new BacklogGauge(w.queue, { limit: 3 });
    const send = (items: unknown[]) =>
      postTo(
        stepApp(
          { route: w.route, items },
          backpressure(gauge),
          enqueueEvents({
            kv: w.kv,
            queue: w.queue,
            commits: new GroupCommit(w.kv),
          }),
        ),
        "",
      );
    const first = await send([{ name: "A" }, { name: "B" }]);
    assert.equal(first.status, 200);
    await first.body?.cancel();
    const full = await send([{ name: "C" }, { name: "D" }]);
    assert.equal(full.status, 429);
    assert.equal(full.headers.get("retry-after"), "10");
    const problem = await full.json();
    assert.equal(
      problem.detail,
      'Queue "greetings" of tenant "demo" holds 2 events; the limit is 3: try again in 10 s',
    );
    assert.deepEqual([problem.queue, problem.backlog, problem.limit], [
      "greetings",
      2,
      3,
    ]);
    // What fits still goes in; nothing refused was queued.
    assert.equal((await send(item("C"))).status, 200);
    assert.equal((await w.queue.stats("demo/greetings")).depth, 3);
  } finally {
    await w.close();
  }
});

Deno.test("backpressure: many requests at once cannot pass the limit together", async () => {
  const w = await stepWorld();
  try {
    const gauge = new BacklogGauge(w.queue, { limit: 5 });
    const app = (items: unknown[]) =>
      stepApp(
        { route: w.route, items },
        backpressure(gauge),
        enqueueEvents({
          kv: w.kv,
          queue: w.queue,
          commits: new GroupCommit(w.kv),
        }),
      );
    const statuses = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const res = await postTo(app(item(`n${i}`)), "");
        await res.body?.cancel();
        return res.status;
      }),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 5, `${statuses}`);
    assert.ok(statuses.every((s) => s === 200 || s === 429));
    assert.equal((await w.queue.stats("demo/greetings")).depth, 5);
  } finally {
    await w.close();
  }
});

Deno.test("backpressure: a write that fails gives its room back", async () => {
  const w = await stepWorld();
  try {
    const gauge = new BacklogGauge(w.queue, { limit: 1 });
    const failing: Step<ListenerEnv> = function failing() {
      throw new Error("the write failed");
    };
    const refusing: Step<ListenerEnv> = function refusing(c) {
      return c.json({ refused: true }, 503);
    };
    for (const last of [failing, refusing]) {
      const res = await postTo(
        stepApp(
          { route: w.route, items: item("A") },
          backpressure(gauge),
          last,
        ),
        "",
      );
      assert.ok(res.status >= 500);
      await res.body?.cancel();
    }
    const ok = await postTo(
      stepApp(
        { route: w.route, items: item("B") },
        backpressure(gauge),
        enqueueEvents({
          kv: w.kv,
          queue: w.queue,
          commits: new GroupCommit(w.kv),
        }),
      ),
      "",
    );
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    await w.close();
  }
});
