/**
 * The dashboard's data on real platforms: a tenant is shown with what could
 * be loaded, whatever part could not.
 */
import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { JobicoClient } from "../client.ts";
import { DashboardModel } from "./dashboard_model.ts";
import { groupLines, tenantLines } from "./detail_lines.ts";

const text = (lines: ReturnType<typeof groupLines>) =>
  lines.map((l) => l.map((s) => s.text).join("")).join("\n");

Deno.test("a tenant created with files and no package shows its files and no error", async () => {
  const h = await startHarness();
  const client = new JobicoClient({ url: h.url, token: h.adminToken });
  const model = new DashboardModel({ client, refreshMs: 60_000 });
  try {
    await client.createTenant("acme");
    await client.uploadFile(
      "acme",
      "s.json",
      "schema",
      new TextEncoder().encode("{}"),
    );
    await model.start();
    const acme = model.snapshot().tenants.find((t) => t.id === "acme")!;
    assert.equal(acme.error, undefined);
    assert.deepEqual(acme.files?.map((f) => f.name), ["s.json"]);
    assert.deepEqual(acme.packages, []);
    assert.deepEqual(acme.queues, []);
    assert.match(text(groupLines(acme, "files")), /s\.json/);
  } finally {
    await model.close();
    await h.close();
  }
});

Deno.test("a part that fails to load is named; the others still show", async () => {
  // This process serves no file repository (it runs in another one), so
  // the files of a tenant cannot be listed here; its packages and queues can.
  const h = await startHarness({
    components: ["ctl", "listener", "recorder"],
  });
  const client = new JobicoClient({ url: h.url, token: h.adminToken });
  const model = new DashboardModel({ client, refreshMs: 60_000 });
  try {
    await client.createTenant("acme");
    await h.platform.repo.put(
      "acme",
      "s.json",
      new TextEncoder().encode('{"type": "object"}'),
    );
    await model.start();
    const acme = model.snapshot().tenants.find((t) => t.id === "acme")!;
    assert.deepEqual(acme.packages, []);
    assert.deepEqual(acme.queues, []);
    assert.equal(acme.files, undefined);
    assert.match(acme.failed?.files ?? "", /HTTP 404/);
    assert.match(acme.error ?? "", /^files: /);
    const files = text(groupLines(acme, "files"));
    assert.match(files, /error/);
    assert.doesNotMatch(files, /No files uploaded/);
    assert.match(text(groupLines(acme, "packages")), /No packages deployed/);
    assert.match(text(tenantLines(acme, [])), /files: .*HTTP 404/);
  } finally {
    await model.close();
    await h.close();
  }
});
