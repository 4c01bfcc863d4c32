import assert from "node:assert/strict";
import { packCalls, unpackCalls, type WorkerCall } from "./_wasm_calls.ts";

Deno.test("packed calls unpack to the same calls, each guest sent once", () => {
  const module = new WebAssembly.Module(
    new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]),
  );
  const enc = new TextEncoder();
  const calls: WorkerCall[] = [
    {
      key: "a",
      module,
      guest: { fuel: 5n, maxSleepMs: 10 },
      input: enc.encode("one"),
      timeoutMs: 100,
    },
    {
      key: "a",
      guest: { fuel: 5n, maxSleepMs: 10 },
      input: enc.encode(""),
      timeoutMs: 100,
    },
    {
      key: "b",
      guest: { mainFunction: "x" },
      input: enc.encode("three"),
      timeoutMs: 100,
    },
    // The same key with other options keeps its own options.
    {
      key: "a",
      guest: { fuel: 5n, maxSleepMs: 99 },
      input: enc.encode("four"),
      timeoutMs: 100,
    },
    {
      key: "a",
      guest: { fuel: 5n, maxSleepMs: 10 },
      input: enc.encode("five"),
      timeoutMs: 100,
    },
    // And with another timeout.
    {
      key: "a",
      guest: { fuel: 5n, maxSleepMs: 10 },
      input: enc.encode("six"),
      timeoutMs: 200,
    },
  ];
  const packed = packCalls(calls);
  assert.equal(packed.guests.length, 4);
  assert.equal(packed.guests.filter((g) => g.module).length, 1);
  const back = unpackCalls(structuredClone(packed, {}));
  assert.deepEqual(
    back.map((
      c,
    ) => [c.key, c.guest, c.timeoutMs, new TextDecoder().decode(c.input)]),
    calls.map((
      c,
    ) => [c.key, c.guest, c.timeoutMs, new TextDecoder().decode(c.input)]),
  );
  assert.ok(back[0].module instanceof WebAssembly.Module);
  assert.equal(back[2].module, undefined);
});
