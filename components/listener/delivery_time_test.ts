import assert from "node:assert/strict";
import { ValidationError } from "@jobico/goico";
import { DEFAULT_MAX_DELAY_MS, deliveryTime } from "./delivery_time.ts";

const NOW = Date.UTC(2026, 11, 3, 12);
const q = (params: Record<string, string | string[]>) => (name: string) => {
  const v = params[name];
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
};

function refused(
  params: Record<string, string | string[]>,
  parameter: string,
  message: RegExp,
  max?: number,
) {
  try {
    deliveryTime(q(params), NOW, max);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    assert.equal(err.kind, "invalid");
    assert.match(err.message, message);
    assert.deepEqual(
      (err.extra.errors as { parameter: string }[]).map((e) => e.parameter),
      [parameter],
    );
    return;
  }
  assert.fail(`accepted ${JSON.stringify(params)}`);
}

Deno.test("delay and runAt give a due time; none, zero or now give none", () => {
  assert.equal(deliveryTime(q({}), NOW), undefined);
  assert.equal(deliveryTime(q({ delay: "30" }), NOW), NOW + 30_000);
  assert.equal(deliveryTime(q({ delay: "1500ms" }), NOW), NOW + 1500);
  assert.equal(deliveryTime(q({ delay: "5m" }), NOW), NOW + 300_000);
  assert.equal(deliveryTime(q({ delay: "2h" }), NOW), NOW + 7_200_000);
  assert.equal(
    deliveryTime(q({ delay: "30d" }), NOW),
    NOW + DEFAULT_MAX_DELAY_MS,
  );
  assert.equal(deliveryTime(q({ delay: "0" }), NOW), undefined);
  assert.equal(
    deliveryTime(q({ runAt: "2026-12-03T13:00:00Z" }), NOW),
    NOW + 3_600_000,
  );
  assert.equal(
    deliveryTime(q({ runAt: "2026-12-03T14:00:00.5+01:00" }), NOW),
    NOW + 3_600_500,
  );
  // Half a minute ago: clocks differ; it runs now.
  assert.equal(
    deliveryTime(q({ runAt: "2026-12-03T11:59:30Z" }), NOW),
    undefined,
  );
});

Deno.test("attack: runAt in 1970, in the year 9999, NaN and other garbage are refused naming the parameter", () => {
  refused(
    { runAt: "1970-01-01T00:00:00Z" },
    "runAt",
    /runAt 1970-01-01T00:00:00Z is in the past/,
  );
  refused(
    { runAt: "9999-12-31T23:59:59Z" },
    "runAt",
    /runAt 9999-12-31T23:59:59Z is too far ahead: at most 2592000 s from now/,
  );
  for (
    const bad of [
      "NaN",
      "",
      "tomorrow",
      "1733227200000",
      "2026-12-03",
      "2026-12-03T13:00:00",
      "2027-02-30T00:00:00Z",
      "2027-01-01T24:00:00Z",
      "+275760-09-13T00:00:00Z",
      "2026-12-03T13:00:00Z\n",
    ]
  ) {
    refused(
      { runAt: bad },
      "runAt",
      /Invalid runAt .*: use an RFC 3339 time with its offset/,
    );
  }
  for (
    const bad of [
      "NaN",
      "-5",
      "1.5",
      "1e9",
      "Infinity",
      "5 m",
      "5w",
      "",
      "0x10",
      "9".repeat(16),
    ]
  ) {
    refused(
      { delay: bad },
      "delay",
      /Invalid delay .*: use a whole number of seconds/,
    );
  }
  refused(
    { delay: "31d" },
    "delay",
    /Delay 31d is too long: at most 2592000 s/,
  );
  refused({ delay: "999999999999999d" }, "delay", /too long/);
  refused({ delay: "61s" }, "delay", /too long: at most 60 s/, 60_000);
  refused(
    { delay: "5", runAt: "2026-12-03T13:00:00Z" },
    "delay",
    /either \?delay= or \?runAt=, not both/,
  );
  refused({ delay: ["5", "10"] }, "delay", /Pass \?delay= once, not 2 times/);
  refused(
    { runAt: ["2026-12-03T13:00:00Z", "2026-12-03T13:00:00Z"] },
    "runAt",
    /once/,
  );
});
