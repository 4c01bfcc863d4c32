/**
 * Retention and quotas over HTTP, on the real server: the settings route,
 * quota answers as clients see them, uploads racing for the last room, and
 * the sweeper of a running platform trimming what a tenant keeps.
 */
import assert from "node:assert/strict";
import { deployGreet, startHarness } from "./_harness.ts";

Deno.test("quotas over HTTP: two uploads racing for the last room, one gets in, the other is a 413 naming the quota", async () => {
  const h = await startHarness({ sweepIntervalMs: 0 });
  try {
    const created = await h.api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "acme" }),
    });
    const { token } = await created.json();
    const set = await h.api("/api/v1/tenants/acme", {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ quotas: { bytes: 3000 } }),
    });
    assert.equal(set.status, 200, await set.clone().text());
    // The tenant's own token: each upload fits alone, not both.
    const put = (name: string) =>
      fetch(`${h.url}/api/v1/tenants/acme/files/${name}`, {
        method: "PUT",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/schema+json",
        },
        body: JSON.stringify({ description: name + "x".repeat(2000) }),
      });
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([
        put(`a${round}.json`),
        put(`b${round}.json`),
      ]);
      const statuses = [a.status, b.status].sort();
      assert.deepEqual(statuses, [201, 413], `round ${round}`);
      const refused = a.status === 413 ? a : b;
      assert.equal(
        refused.headers.get("content-type"),
        "application/problem+json",
      );
      const problem = await refused.json();
      assert.equal(problem.quota, "bytes");
      assert.equal(problem.limit, 3000);
      assert.equal(problem.tenant, "acme");
      assert.match(
        problem.detail,
        /does not fit the bytes quota of tenant "acme"/,
      );
      await (a.status === 201 ? a : b).body?.cancel();
      // Room again for the next round.
      const files = await (await h.api("/api/v1/tenants/acme/files")).json();
      for (const f of files.files) {
        const del = await h.api(`/api/v1/tenants/acme/files/${f.name}`, {
          method: "DELETE",
        });
        assert.equal(del.status, 204);
      }
    }
    const tenant = await (await h.api("/api/v1/tenants/acme")).json();
    assert.deepEqual(tenant.usage, {
      files: 0,
      bytes: 0,
      versions: 0,
      executions: 0,
    });
  } finally {
    await h.close();
  }
});

Deno.test("a running platform's sweeper trims a tenant's executions to its own retention, and GET tenant shows it", async () => {
  const h = await startHarness({ workers: 1, sweepIntervalMs: 100 });
  try {
    await deployGreet(h);
    // demo exists from its uploads (without a token).
    const ok = await h.api("/api/v1/tenants/demo", {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ retention: { executions: 4 } }),
    });
    assert.equal(ok.status, 200);
    await h.send(
      "demo",
      "greet",
      Array.from({ length: 6 }, (_, i) => ({
        name: `N${i}`,
      })),
    );
    // 6 greet and 6 greeted; the sweeper keeps the newest 4.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const t = await (await h.api("/api/v1/tenants/demo")).json();
      const listed = (await (await h.api(
        "/api/v1/tenants/demo/executions?limit=100",
      )).json()).executions;
      const processed = (await (await h.api(
        "/api/v1/tenants/demo/queues/greetings",
      )).json()).processed;
      // The pass records what it did once it is over.
      const swept = (await (await h.api("/api/v1/retention")).json()).sweeper
        .totals.executions;
      if (
        processed === 6 && listed.length === 4 && t.usage.executions === 4 &&
        swept === 8
      ) {
        break;
      }
      assert.ok(Date.now() < deadline, JSON.stringify({ usage: t.usage }));
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = await (await h.api("/api/v1/retention")).json();
    assert.equal(status.sweeper.intervalMs, 100);
    assert.equal(status.sweeper.last.complete, true);
  } finally {
    await h.close();
  }
});
