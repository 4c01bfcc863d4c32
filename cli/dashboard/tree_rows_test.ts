import assert from "node:assert/strict";
import type { TenantData } from "./dashboard_model.ts";
import { treeRows } from "./tree_rows.ts";

const AT = "2026-01-01T00:00:00.000Z";

function tenant(id: string): TenantData {
  return {
    id,
    live: true,
    streamed: true,
    packages: [{ tenant: id, id: "greet", version: 2, deployedAt: AT }],
    files: [
      {
        tenant: id,
        name: "greet.wasm",
        kind: "wasm",
        size: 10,
        sha256: "a",
        uploadedAt: AT,
      },
      {
        tenant: id,
        name: "audit.wasm",
        kind: "wasm",
        size: 10,
        sha256: "b",
        uploadedAt: AT,
      },
    ],
    queues: [
      {
        id: "audit",
        depth: 0,
        inFlight: 0,
        delayed: 0,
        dead: 0,
        processed: 0,
        oldestAgeMs: 0,
      },
    ],
  };
}

const keys = (rows: ReturnType<typeof treeRows>) => rows.map((r) => r.key);

Deno.test("treeRows: the platform, then each tenant with its packages, files and queues", () => {
  const rows = treeRows({ tenants: [tenant("demo")] }, new Map());
  assert.deepEqual(keys(rows), [
    "platform",
    "t/demo",
    "t/demo/packages",
    "t/demo/packages/greet",
    "t/demo/files",
    "t/demo/files/greet.wasm",
    "t/demo/files/audit.wasm",
    "t/demo/queues",
    "t/demo/queues/audit",
  ]);
  assert.deepEqual(rows.map((r) => r.depth), [0, 0, 1, 2, 1, 2, 2, 1, 2]);
  assert.equal(rows[3].parent, "t/demo/packages");
});

Deno.test("treeRows: closed nodes hide their children; many tenants start closed", () => {
  const one = treeRows(
    { tenants: [tenant("demo")] },
    new Map([["t/demo/files", false]]),
  );
  assert.ok(!keys(one).includes("t/demo/files/greet.wasm"));
  assert.equal(one.find((r) => r.key === "t/demo/files")?.expanded, false);
  const many = treeRows(
    { tenants: ["a", "b", "c", "d"].map(tenant) },
    new Map([["t/b", true]]),
  );
  assert.deepEqual(
    keys(many).filter((k) => k.split("/").length === 2),
    ["t/a", "t/b", "t/c", "t/d"],
  );
  assert.ok(keys(many).includes("t/b/files"), "the one opened is open");
  assert.ok(!keys(many).includes("t/a/files"));
});

Deno.test("treeRows: a filter keeps what matches and its ancestors, all open", () => {
  const rows = treeRows(
    { tenants: [tenant("demo"), tenant("other")] },
    new Map([["t/demo", false]]),
    "AUDIT",
  );
  assert.deepEqual(keys(rows), [
    "t/demo",
    "t/demo/files",
    "t/demo/files/audit.wasm",
    "t/demo/queues",
    "t/demo/queues/audit",
    "t/other",
    "t/other/files",
    "t/other/files/audit.wasm",
    "t/other/queues",
    "t/other/queues/audit",
  ]);
  assert.deepEqual(
    treeRows({ tenants: [tenant("demo")] }, new Map(), "zzz"),
    [],
  );
  // A tenant that matches by name stays, even with no matching children.
  assert.deepEqual(
    keys(
      treeRows({ tenants: [tenant("demo"), tenant("x")] }, new Map(), "dem"),
    ),
    ["t/demo"],
  );
});
