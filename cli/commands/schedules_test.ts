import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { captureIo, type CaptureOptions } from "../_capture_io.ts";
import { run } from "../main.ts";
import { scheduleLines } from "./schedules.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

Deno.test("schedules shows the next tick and the last one sent over a real platform", async () => {
  const h = await startHarness({ workers: 1, minScheduleIntervalMs: 1000 });
  try {
    await h.upload("acme", "echo.wasm", await compileWat("echo"));
    await h.upload("acme", "any.json", "{}");
    await h.deploy(`id: sch
tenant: acme
queues: [{id: q}]
jobs:
  - event:
      id: tick
      schema: {id: s, schemaref: any.json}
      supplierqueue: q
      runtime: echo
      schedule: "* * * * * *"
runtimes:
  - id: echo
    moduleref: echo.wasm
`);
    const env = { JOBICO_URL: h.url, JOBICO_TOKEN: h.adminToken };
    // Wait (generously) until a tick was sent.
    let shown = "";
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = await jobico(["schedules", "acme"], { env });
      assert.equal(r.code, 0, r.err);
      shown = r.out;
      if (/^ {2}last {2}\S.* sent$/m.test(shown)) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.match(
      shown,
      /^Event tick \(sch v1\) -> queue q: \* \* \* \* \* \* \(UTC\)$/m,
    );
    assert.match(shown, /^ {2}next {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/m);
    assert.match(shown, /^ {2}last {2}\d{4}-\d\d-\d\d .* sent$/m);
    const json = await jobico(["schedules", "acme", "--json"], { env });
    assert.equal(json.code, 0, json.err);
    assert.equal(JSON.parse(json.out).schedules[0].lastSent, true);
    // Another tenant's token: refused, nothing shown.
    const other = await h.api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "evil" }),
    });
    const { token } = await other.json();
    const denied = await jobico(["schedules", "acme"], {
      env: { JOBICO_URL: h.url, JOBICO_TOKEN: token },
    });
    assert.notEqual(denied.code, 0);
    assert.doesNotMatch(denied.out, /tick/);
    const none = await jobico(["schedules", "evil"], { env });
    assert.equal(none.out.trim(), "No scheduled event");
  } finally {
    await h.close();
  }
});

Deno.test("schedule lines say when a tick was skipped and when none will come", () => {
  const lines = scheduleLines({
    schedules: [{
      event: "e",
      package: "p",
      version: 2,
      queue: "q",
      cron: "0 0 1 1 *",
      timezone: "Europe/Madrid",
      next: null,
      lastTick: "2026-01-01T00:00:00.000Z",
      lastSent: false,
    }],
  });
  assert.equal(
    lines[0],
    "Event e (p v2) -> queue q: 0 0 1 1 * (Europe/Madrid)",
  );
  assert.equal(lines[1], "  next  none, it fires no more");
  assert.match(lines[2], /^ {2}last {2}.* skipped \(queue full\)$/);
});
