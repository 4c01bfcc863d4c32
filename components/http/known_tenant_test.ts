import assert from "node:assert/strict";
import { testPlatform } from "../server/_test_platform.ts";

/** Every tenant-scoped read, as a client would make it. */
const READS = [
  "packages",
  "packages/nope",
  "packages/nope/versions",
  "files",
  "files/nope.json",
  "executions",
  "executions/stream",
  "queues",
  "queues/nope",
  "queues/nope/dead",
  "webhook-secret",
];

Deno.test("a created tenant with no package answers empty lists on every route", async () => {
  const p = await testPlatform();
  try {
    let res = await p.app.request("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "acme" }),
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    // An upload, but no package (the case).
    res = await p.app.request("/api/v1/tenants/acme/files/s.json", {
      method: "PUT",
      body: '{"type": "object"}',
    });
    assert.equal(res.status, 201, await res.text());
    for (
      const [path, key] of [
        ["packages", "packages"],
        ["queues", "queues"],
        ["executions", "executions"],
        ["files", "files"],
      ]
    ) {
      res = await p.app.request(`/api/v1/tenants/acme/${path}`);
      const body = await res.json();
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
      assert.ok(Array.isArray(body[key]), path);
    }
  } finally {
    await p.close();
  }
});

Deno.test("an unknown tenant is a 404 naming it on every tenant route", async () => {
  const p = await testPlatform();
  try {
    for (const path of READS) {
      const res = await p.app.request(`/api/v1/tenants/ghost/${path}`);
      const body = await res.json();
      assert.equal(res.status, 404, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.detail, 'Unknown tenant "ghost"', path);
    }
    for (
      const [method, path] of [
        ["DELETE", "packages/nope"],
        ["POST", "packages/nope/rollback"],
        ["POST", "queues/nope/dead/replay"],
        ["DELETE", "queues/nope/dead"],
        ["DELETE", "files/nope.json"],
        ["POST", "token"],
      ]
    ) {
      const res = await p.app.request(`/api/v1/tenants/ghost/${path}`, {
        method,
        body: method === "POST" ? '{"version": 1}' : undefined,
      });
      const body = await res.json();
      assert.equal(
        res.status,
        404,
        `${method} ${path}: ${JSON.stringify(body)}`,
      );
      assert.equal(body.detail, 'Unknown tenant "ghost"', `${method} ${path}`);
    }
    // The tenant itself, and its events.
    let res = await p.app.request("/api/v1/tenants/ghost");
    assert.equal(res.status, 404);
    await res.body?.cancel();
    res = await p.app.request("/events/ghost/greet", {
      method: "POST",
      body: '{"data": [{}]}',
    });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).detail, 'Unknown tenant "ghost"');
  } finally {
    await p.close();
  }
});

Deno.test("a deleted tenant is unknown at once on every tenant route", async () => {
  const p = await testPlatform();
  try {
    let res = await p.app.request("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "gone" }),
    });
    await res.body?.cancel();
    res = await p.app.request("/api/v1/tenants/gone", { method: "DELETE" });
    assert.equal(res.status, 204);
    for (const path of READS) {
      res = await p.app.request(`/api/v1/tenants/gone/${path}`);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  } finally {
    await p.close();
  }
});

Deno.test("the admin may still upload for a tenant never created, which makes it exist", async () => {
  const p = await testPlatform();
  try {
    let res = await p.app.request("/api/v1/tenants/fresh/files/s.json", {
      method: "PUT",
      body: '{"type": "object"}',
    });
    assert.equal(res.status, 201, await res.text());
    res = await p.app.request("/api/v1/tenants/fresh/queues");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { queues: [] });
  } finally {
    await p.close();
  }
});

Deno.test("a bad tenant name is a 400 before any lookup", async () => {
  const p = await testPlatform();
  try {
    const res = await p.app.request("/api/v1/tenants/..%2Fx/packages");
    assert.equal(res.status, 400);
    assert.match((await res.json()).detail, /Invalid tenant/);
  } finally {
    await p.close();
  }
});
