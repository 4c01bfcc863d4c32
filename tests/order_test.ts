/**
 * Events of one queue run in the order they were accepted, while queues
 * run in parallel on the sandbox pool.
 */
import assert from "node:assert/strict";
import { deployGreet, startHarness, storeTest as test } from "./_harness.ts";

test("each queue runs its events in accepted order while queues run in parallel", async (store) => {
  const h = await startHarness({ store, workers: 2, tenantConcurrency: 2 });
  try {
    await deployGreet(h);
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, h.platform.pool?.busy ?? 0);
    }, 1);
    const accepted: string[] = [];
    for (let i = 0; i < 10; i++) {
      accepted.push(
        ...await h.send(
          "demo",
          "greet",
          Array.from({ length: 50 }, (_, j) => ({ name: `n${i}-${j}` })),
        ),
      );
    }
    // Each greet chains a `greeted` event into the second queue, `audit`.
    const execs = await h.waitFor(
      "demo",
      (e) => e.filter((x) => x.event === "greeted").length === 500,
    );
    clearInterval(sampler);
    // Execution ids grow in the order executions finished.
    const byId = [...execs].sort((a, b) => a.id < b.id ? -1 : 1);
    const greets = byId.filter((e) => e.event === "greet");
    assert.deepEqual(greets.map((e) => e.eventId), accepted);
    const audits = byId.filter((e) => e.event === "greeted");
    const chainedIds = audits.map((e) => e.eventId);
    assert.deepEqual(chainedIds, [...chainedIds].sort());
    console.log(`peak sandbox Workers busy at once: ${peak} of 2`);
  } finally {
    await h.close();
  }
});
