import assert from "node:assert/strict";
import type { EventDef, JobPackage } from "./job_package.ts";
import { type DiffInput, diffPackages } from "./package_diff.ts";

const event = (id: string, more: Partial<EventDef> = {}): EventDef => ({
  id,
  datatype: 0,
  schema: { id: `${id}-schema`, schemaref: "in.json" },
  supplierqueue: "q",
  runtime: "r",
  ...more,
});

function version(
  pkg: Partial<JobPackage> = {},
  files: Record<string, string> = { "in.json": "a1", "m.wasm": "b1" },
): DiffInput {
  return {
    package: {
      id: "p",
      tenant: "t",
      queues: [{ id: "q" }],
      jobs: [{ event: event("e"), result: { ok: event("done") } }],
      runtimes: [{ id: "r", moduleref: "m.wasm", type: 0 }],
      ...pkg,
    },
    files,
  };
}

Deno.test("diffPackages: the same version has no changes", () => {
  assert.deepEqual(diffPackages(version(), version()), []);
});

Deno.test("diffPackages: a new package is all added", () => {
  assert.deepEqual(diffPackages(null, version()), [
    { kind: "event", op: "added", id: "e" },
    { kind: "event", op: "added", id: "done" },
    { kind: "queue", op: "added", id: "q" },
    { kind: "runtime", op: "added", id: "r" },
  ]);
});

Deno.test("diffPackages: events, queues and runtimes added, removed and changed", () => {
  const before = version();
  const after = version({
    name: "Renamed",
    queues: [{ id: "q" }, { id: "q2" }],
    jobs: [
      {
        event: event("e", {
          schema: { id: "s", schemaref: "strict.json" },
          supplierqueue: "q2",
          runtime: "r2",
        }),
      },
      { event: event("new") },
    ],
    runtimes: [
      {
        id: "r",
        moduleref: "m2.wasm",
        mainfuncname: "run",
        type: 0,
        limits: { fuel: 5000, timeoutms: 200 },
        retries: 0,
      },
      { id: "r2", moduleref: "m.wasm", type: 0 },
    ],
  });
  assert.deepEqual(diffPackages(before, after), [
    {
      kind: "package",
      op: "changed",
      id: "p",
      fields: [{ field: "name", after: "Renamed" }],
    },
    { kind: "event", op: "removed", id: "done" },
    {
      kind: "event",
      op: "changed",
      id: "e",
      fields: [
        { field: "schema", before: "in.json", after: "strict.json" },
        { field: "queue", before: "q", after: "q2" },
        { field: "runtime", before: "r", after: "r2" },
      ],
    },
    { kind: "event", op: "added", id: "new" },
    { kind: "queue", op: "added", id: "q2" },
    {
      kind: "runtime",
      op: "changed",
      id: "r",
      fields: [
        { field: "module", before: "m.wasm", after: "m2.wasm" },
        { field: "mainFunction", before: "event", after: "run" },
        { field: "limits.timeoutms", after: 200 },
        { field: "limits.fuel", after: 5000 },
        { field: "retries", after: 0 },
      ],
    },
    { kind: "runtime", op: "added", id: "r2" },
  ]);
  // And back: what was added is removed.
  const back = diffPackages(after, before);
  assert.deepEqual(
    back.filter((c) => c.op !== "changed").map((c) => [c.op, c.kind, c.id]),
    [
      ["removed", "event", "new"],
      ["added", "event", "done"],
      ["removed", "queue", "q2"],
      ["removed", "runtime", "r2"],
    ],
  );
});

Deno.test("diffPackages: a file re-uploaded under the same name is a change", () => {
  const changes = diffPackages(
    version(),
    version({}, { "in.json": "a2", "m.wasm": "b1", "other.json": "c1" }),
  );
  assert.deepEqual(changes, [{
    kind: "file",
    op: "changed",
    id: "in.json",
    fields: [{ field: "sha256", before: "a1", after: "a2" }],
  }]);
});

Deno.test("diffPackages: an event's auth is compared when declared, token when not", () => {
  const withAuth = (auth?: EventDef["auth"]) =>
    version({
      jobs: [{ event: { ...event("e"), ...(auth ? { auth } : {}) } }],
    });
  assert.deepEqual(diffPackages(withAuth(), withAuth("token")), []);
  assert.deepEqual(diffPackages(withAuth("hmac"), withAuth("hmac")), []);
  assert.deepEqual(diffPackages(withAuth(), withAuth("public")), [{
    kind: "event",
    op: "changed",
    id: "e",
    fields: [{ field: "auth", before: "token", after: "public" }],
  }]);
});

Deno.test("a change of what a job sends its results is a change of the job's event", async () => {
  const { diffPackages } = await import("./package_diff.ts");
  const pkg = (item?: "result" | "envelope") => ({
    id: "p",
    tenant: "t",
    queues: [{ id: "q" }],
    runtimes: [{ id: "r", moduleref: "m.wasm", type: 0 }],
    jobs: [{
      event: {
        id: "ev1",
        datatype: 0,
        schema: { id: "s", schemaref: "s.json" },
        supplierqueue: "q",
        runtime: "r",
      },
      result: {
        ok: {
          id: "ev1_ok",
          datatype: 0,
          schema: { id: "s", schemaref: "s.json" },
          supplierqueue: "q",
          runtime: "r",
        },
        ...(item && { item }),
      },
    }],
  });
  const v = (item?: "result" | "envelope") => ({
    package: pkg(item),
    files: {},
  });
  assert.deepEqual(diffPackages(v("envelope"), v("result")), [{
    kind: "event",
    op: "changed",
    id: "ev1",
    fields: [{ field: "result.item", before: "envelope", after: "result" }],
  }]);
  // A version stored before `item` existed sends the envelope.
  assert.deepEqual(diffPackages(v(), v("envelope")), []);
  assert.equal(diffPackages(v(), v("result")).length, 1);
});

Deno.test("diffPackages: a schedule added, changed or removed is a change of its event", () => {
  const withSchedule = (schedule?: EventDef["schedule"]) =>
    version({
      jobs: [{ event: event("e", schedule ? { schedule } : {}) }],
    });
  const changed = (before: unknown, after: unknown, f = "schedule") => [{
    kind: "event",
    op: "changed",
    id: "e",
    fields: [{
      field: f,
      ...(before !== undefined && { before }),
      ...(after !== undefined && { after }),
    }],
  }];
  assert.deepEqual(
    diffPackages(withSchedule(), withSchedule({ cron: "*/5 * * * *" })),
    changed(undefined, "*/5 * * * *"),
  );
  assert.deepEqual(
    diffPackages(
      withSchedule({ cron: "0 9 * * *" }),
      withSchedule({ cron: "0 9 * * *", timezone: "Europe/Madrid" }),
    ),
    changed("0 9 * * *", "0 9 * * * (Europe/Madrid)"),
  );
  assert.deepEqual(
    diffPackages(
      withSchedule({ cron: "0 9 * * *", payload: { a: 1 } }),
      withSchedule({ cron: "0 9 * * *", payload: { a: 2 } }),
    ),
    changed('{"a":1}', '{"a":2}', "schedule.payload"),
  );
  assert.deepEqual(
    diffPackages(withSchedule({ cron: "0 9 * * *" }), withSchedule()),
    changed("0 9 * * *", undefined),
  );
  assert.deepEqual(
    diffPackages(
      withSchedule({ cron: "0 9 * * *" }),
      withSchedule({ cron: "0 9 * * *" }),
    ),
    [],
  );
});
