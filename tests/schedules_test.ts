/**
 * Schedules made visible (`GET /api/v1/tenants/{t}/schedules`) end to end:
 * the real server on port 0, a real KV, the echo Jobicolet built from
 * tests/jobicolets; every answer checked against the API's schema.
 */
import assert from "node:assert/strict";
import { startHarness } from "./_harness.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import type { ScheduleList } from "../api/mod.ts";
import { SCHEMAS } from "../api/schemas.ts";
import { ApiCheck } from "../components/http/api_check.ts";

/** The answer's schema with its `$ref` to `Schedule` replaced by it. */
const INLINED = JSON.parse(JSON.stringify({
  ...SCHEMAS.ScheduleList,
  properties: { schedules: { type: "array", items: SCHEMAS.Schedule } },
}));
// deno-lint-ignore no-explicit-any
const check = new ApiCheck(INLINED as any);

Deno.test("schedules show each scheduled event's next tick and the last one sent", async () => {
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
      schedule: {cron: "* * * * * *", timezone: Europe/Madrid}
  - event:
      id: plain
      schema: {id: s2, schemaref: any.json}
      supplierqueue: q
      runtime: echo
runtimes:
  - id: echo
    moduleref: echo.wasm
`);
    const list = async (token?: string) => {
      const res = await h.api(
        "/api/v1/tenants/acme/schedules",
        token ? { headers: { authorization: `Bearer ${token}` } } : {},
      );
      return { status: res.status, body: await res.json() };
    };
    // Wait (generously: a loaded machine) until a tick was sent.
    let last: ScheduleList | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = await list();
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(check.issue(r.body), undefined, JSON.stringify(r.body));
      last = r.body;
      if (last!.schedules[0]?.lastSent) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(last!.schedules.length, 1, "only the scheduled event");
    const s = last!.schedules[0];
    assert.deepEqual(
      [s.event, s.package, s.version, s.queue, s.cron, s.timezone],
      ["tick", "sch", 1, "q", "* * * * * *", "Europe/Madrid"],
    );
    assert.equal(s.lastSent, true);
    assert.ok(
      s.lastTick && s.next && Date.parse(s.next) > Date.parse(s.lastTick),
    );
    assert.equal(Date.parse(s.next) % 1000, 0, "a whole second");
    // Another tenant's token sees nothing of acme's.
    const other = await h.api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "evil" }),
    });
    const { token } = await other.json();
    const denied = await list(token);
    assert.equal(denied.status, 403);
    assert.doesNotMatch(JSON.stringify(denied.body), /tick/);
    // A tenant without schedules: an empty list.
    const own = await h.api("/api/v1/tenants/evil/schedules");
    assert.deepEqual(await own.json(), { schedules: [] });
  } finally {
    await h.close();
  }
});
