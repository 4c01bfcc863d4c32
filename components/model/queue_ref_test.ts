import assert from "node:assert/strict";
import {
  queueRefOf,
  queueStorageName,
  tenantQueuesPrefix,
} from "./queue_ref.ts";

Deno.test("queueStorageName: the name stored queues have always had, tenant/queue", () => {
  assert.equal(
    queueStorageName({ tenant: "demo", queue: "greetings" }),
    "demo/greetings",
  );
  assert.ok(
    queueStorageName({ tenant: "demo", queue: "q" }).startsWith(
      tenantQueuesPrefix("demo"),
    ),
  );
  // A tenant whose id starts like another's owns none of its queues.
  assert.ok(
    !queueStorageName({ tenant: "demo2", queue: "q" }).startsWith(
      tenantQueuesPrefix("demo"),
    ),
  );
});

Deno.test("queueRefOf: reads back what queueStorageName made, a queue id with dots and dashes too", () => {
  for (
    const ref of [
      { tenant: "demo", queue: "greetings" },
      { tenant: "a.b-c_d", queue: "x.y-z" },
      { tenant: "t", queue: "" },
    ]
  ) {
    assert.deepEqual(queueRefOf(queueStorageName(ref)), ref);
  }
});

Deno.test("queueRefOf: a name with no tenant is an error naming it", () => {
  for (const name of ["", "noslash", "/q"]) {
    assert.throws(() => queueRefOf(name), {
      name: "RangeError",
      message: `Queue name "${name}" names no tenant`,
    });
  }
});
