import assert from "node:assert/strict";
import { abortableSleep } from "./abortable_sleep.ts";

Deno.test("abortableSleep: waits its time without an abort", async () => {
  const t = performance.now();
  await abortableSleep(30, new AbortController().signal);
  assert.ok(performance.now() - t >= 25);
});

Deno.test("abortableSleep: an abort while it waits ends it, timer cleared", async () => {
  const ctrl = new AbortController();
  const waiting = abortableSleep(60_000, ctrl.signal);
  ctrl.abort();
  // The test's sanitizers fail it if the 60 s timer were left running.
  await waiting;
});

Deno.test("abortableSleep: a signal aborted before the call does not wait at all", async () => {
  const ctrl = new AbortController();
  ctrl.abort();
  let settled = false;
  const waiting = abortableSleep(60_000, ctrl.signal).then(() => {
    settled = true;
  });
  await Promise.resolve();
  assert.ok(settled, "settled within a microtask");
  await waiting;
});
