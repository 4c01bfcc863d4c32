import assert from "node:assert/strict";
import type { CallFrame } from "./_breakdown.ts";
import { jsUsPerRequest, readMainProfile } from "./_main_profile.ts";

const f = (functionName: string, url = ""): CallFrame => ({
  functionName,
  url,
  lineNumber: 0,
});

const PROFILE = {
  nodes: [
    { id: 1, callFrame: f("(root)"), children: [2, 3] },
    { id: 2, callFrame: f("(idle)") },
    { id: 3, callFrame: f("parse", "file:///x/y.ts") },
  ],
  samples: [2, 3, 3, 2, 3],
  timeDeltas: [1000, 1000, 2000, 1000, 1000],
  startTime: 10_000,
  endTime: 16_000,
};

Deno.test("jsUsPerRequest: the window's samples that were not idle, per request", () => {
  // Samples at 11, 12, 14, 15 and 16 ms; the window 12 to 15 holds 3 ms of
  // JS (12, 14) and 1 of idle (15): 3 ms over 100 requests.
  assert.equal(jsUsPerRequest(PROFILE, 12_000, 15_000, 100), 30);
  // Idle alone is no JS.
  assert.equal(jsUsPerRequest(PROFILE, 15_000, 15_000, 10), 0);
});

Deno.test("readMainProfile: the main isolate's, not a Worker's; every one kept when asked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const worker = { ...PROFILE, startTime: 1 };
    await Deno.writeTextFile(
      `${dir}/CPU.1.2.worker-1.cpuprofile`,
      JSON.stringify(worker),
    );
    await Deno.writeTextFile(
      `${dir}/CPU.1.2.cpuprofile`,
      JSON.stringify(PROFILE),
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a profile");
    const keep = `${dir}/kept/deeper`;
    const p = await readMainProfile(dir, keep);
    assert.equal(p?.startTime, 10_000);
    const kept = [];
    for await (const e of Deno.readDir(keep)) kept.push(e.name);
    assert.deepEqual(kept.sort(), [
      "CPU.1.2.cpuprofile",
      "CPU.1.2.worker-1.cpuprofile",
    ]);
    assert.equal(await readMainProfile(keep + "/.."), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
