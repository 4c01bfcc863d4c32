import assert from "node:assert/strict";
import { parsePackage } from "./parse_package.ts";
import {
  compileSchedule,
  nextTick,
  scheduledItem,
  shortestGapMs,
} from "./schedule.ts";

const PKG = (schedule: string) =>
  `id: pkg1
tenant: acme
queues:
  - id: q1
jobs:
  - event:
      id: tick
      schema: { id: s1, schemaref: schema.json }
      supplierqueue: q1
      runtime: r1
${schedule}
runtimes:
  - id: r1
    moduleref: greet.wasm
`;

Deno.test("a schedule is read in its short and its long form", () => {
  const short = parsePackage(PKG('      schedule: "*/5 * * * *"'));
  assert.deepEqual(short.issues, []);
  assert.deepEqual(short.pkg?.jobs[0].event.schedule, { cron: "*/5 * * * *" });
  assert.deepEqual(short.schedules, [{
    event: "tick",
    path: "jobs[0].event.schedule",
    line: 11,
    col: 17,
  }]);
  const long = parsePackage(PKG(
    '      schedule:\n        cron: "0 9 * * 1-5"\n        timezone: Europe/Madrid\n        payload: {report: daily, to: [a, b]}',
  ));
  assert.deepEqual(long.issues, []);
  assert.deepEqual(long.pkg?.jobs[0].event.schedule, {
    cron: "0 9 * * 1-5",
    timezone: "Europe/Madrid",
    payload: { report: "daily", to: ["a", "b"] },
  });
  const none = parsePackage(PKG("      schedule:"));
  assert.equal("schedule" in none.pkg!.jobs[0].event, false);
});

Deno.test("a broken schedule is reported at its line and column", () => {
  const cases: [string, string, RegExp, number, number][] = [
    [
      '      schedule: "61 * * * *"',
      "jobs[0].event.schedule",
      /minute: 61/,
      11,
      17,
    ],
    ['      schedule: "* * *"', "jobs[0].event.schedule", /3 fields/, 11, 17],
    [
      "      schedule: 5",
      "jobs[0].event.schedule",
      /Expected a string/,
      11,
      17,
    ],
    [
      '      schedule: {cron: "0 * * * *", timezone: Mars/Olympus}',
      "jobs[0].event.schedule.timezone",
      /unknown time zone "Mars\/Olympus"/,
      11,
      47,
    ],
    [
      '      schedule: {cron: "0 0 30 2 *"}',
      "jobs[0].event.schedule.cron",
      /never fires/,
      11,
      24,
    ],
    [
      '      schedule: {cron: "0 * * * *", every: 5}',
      "jobs[0].event.schedule.every",
      /Unknown key "every"/,
      11,
      37,
    ],
    [
      "      schedule: {timezone: UTC}",
      "jobs[0].event.schedule.cron",
      /Missing required key "cron"/,
      11,
      17,
    ],
    [
      "      schedule: {cron: }",
      "jobs[0].event.schedule.cron",
      /Expected a string/,
      11,
      24,
    ],
  ];
  for (const [yaml, path, message, line, col] of cases) {
    const { pkg, issues } = parsePackage(PKG(yaml));
    assert.equal(pkg, undefined, yaml);
    assert.equal(issues.length, 1, `${yaml}: ${JSON.stringify(issues)}`);
    assert.equal(issues[0].path, path, yaml);
    assert.match(issues[0].message, message, yaml);
    assert.deepEqual([issues[0].line, issues[0].col], [line, col], yaml);
  }
});

Deno.test("attack: a schedule that fires every second is refused under the default", () => {
  for (
    const cron of [
      "* * * * * *",
      "*/2 * * * * *",
      // Close ticks only once a day, at midnight: still found.
      "0,1 0 0 * * *",
      // Close ticks only on New Year's Eve.
      "*/30 59 23 31 12 *",
    ]
  ) {
    const { issues } = parsePackage(PKG(`      schedule: "${cron}"`));
    assert.equal(issues.length, 1, cron);
    assert.match(
      issues[0].message,
      /schedules may fire at most once every 1 min/,
      cron,
    );
  }
  // An explicit minimum lets faster schedules through, and no faster.
  const fast = parsePackage(PKG('      schedule: "* * * * * *"'), {
    minScheduleIntervalMs: 1000,
  });
  assert.deepEqual(fast.issues, []);
  // One minute apart is once a minute: allowed under the default.
  assert.deepEqual(
    parsePackage(PKG('      schedule: "0-5 3 * * *"')).issues,
    [],
  );
  const faster = parsePackage(PKG('      schedule: "* * * * * *"'), {
    minScheduleIntervalMs: 2000,
  });
  assert.match(faster.issues[0].message, /fires every 1 s/);
});

Deno.test("ticks follow the time zone, daylight saving included", () => {
  const c = compileSchedule({ cron: "30 2 * * *", timezone: "Europe/Madrid" });
  // 2026-03-29: clocks go from 02:00 to 03:00 in Madrid; 02:30 does not exist.
  const after = Date.UTC(2026, 2, 28, 12);
  const first = nextTick(c, after)!;
  // croner fires such a tick at the first moment that exists after it.
  assert.equal(new Date(first).toISOString(), "2026-03-29T01:00:00.000Z");
  const utc = compileSchedule({ cron: "30 2 * * *" });
  assert.equal(
    new Date(nextTick(utc, after)!).toISOString(),
    "2026-03-29T02:30:00.000Z",
  );
  assert.equal(
    shortestGapMs(compileSchedule({ cron: "*/5 * * * *" }), after),
    300_000,
  );
});

Deno.test("a tick's item carries its time and the declared payload", () => {
  assert.deepEqual(scheduledItem({ cron: "* * * * *" }, 0), {
    scheduledAt: "1970-01-01T00:00:00.000Z",
  });
  assert.deepEqual(
    scheduledItem({ cron: "* * * * *", payload: { a: 1 } }, 60_000),
    { scheduledAt: "1970-01-01T00:01:00.000Z", payload: { a: 1 } },
  );
});

Deno.test("a schedule's payload: aliases resolved, what JSON cannot carry refused naming where", () => {
  const aliased = parsePackage(PKG(
    '      schedule:\n        cron: "0 9 * * *"\n        payload: {region: &r {name: eu-west, zone: 3}, backup: *r}',
  ));
  assert.deepEqual(aliased.issues, []);
  assert.deepEqual(aliased.pkg?.jobs[0].event.schedule?.payload, {
    region: { name: "eu-west", zone: 3 },
    backup: { name: "eu-west", zone: 3 },
  });
  const cases: [string, string, RegExp][] = [
    [
      "{blob: !!binary aGVsbG8=}",
      "jobs[0].event.schedule.payload.blob",
      /binary data \(!!binary\) cannot be sent as JSON/,
    ],
    [
      "{tags: !!set {a, b}}",
      "jobs[0].event.schedule.payload.tags",
      /a set \(!!set\) cannot be sent as JSON/,
    ],
    [
      "{big: [1, .inf]}",
      "jobs[0].event.schedule.payload.big[1]",
      /the number Infinity \(beyond what JSON can hold\)/,
    ],
    [
      "{big: 1e400}",
      "jobs[0].event.schedule.payload.big",
      /the number Infinity/,
    ],
  ];
  for (const [payload, path, message] of cases) {
    const { issues, pkg } = parsePackage(PKG(
      `      schedule:\n        cron: "0 9 * * *"\n        payload: ${payload}`,
    ));
    assert.equal(issues.length, 1, payload);
    assert.equal(issues[0].path, path, payload);
    assert.match(issues[0].message, message, payload);
    assert.equal(pkg, undefined, payload);
  }
});
