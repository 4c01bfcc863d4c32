import assert from "node:assert/strict";
import { examples, testPlatform, uploadGreetFiles } from "../_test_platform.ts";

Deno.test("the package API deploys, lists, shows, versions, rolls back and deletes", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await Deno.readTextFile(new URL("job.yaml", examples));
    const deploy = () =>
      p.app.request("/api/v1/packages", { method: "POST", body: yaml });
    const first = await deploy();
    assert.equal(first.status, 201);
    assert.deepEqual(await first.json(), {
      tenant: "demo",
      id: "greet",
      version: 1,
    });
    assert.equal((await (await deploy()).json()).version, 2);
    const list = await (await p.app.request("/api/v1/tenants/demo/packages"))
      .json();
    assert.deepEqual(
      list.packages.map((
        x: { id: string; version: number },
      ) => [x.id, x.version]),
      [["greet", 2]],
    );
    const show =
      await (await p.app.request("/api/v1/tenants/demo/packages/greet")).json();
    assert.equal(show.source, yaml);
    assert.equal(show.package.runtimes[0].moduleref, "greet.wasm");
    const versions = await (await p.app.request(
      "/api/v1/tenants/demo/packages/greet/versions",
    )).json();
    assert.equal(versions.versions.length, 2);
    const rb = await p.app.request(
      "/api/v1/tenants/demo/packages/greet/rollback",
      {
        method: "POST",
        body: JSON.stringify({ version: 1 }),
      },
    );
    assert.deepEqual(await rb.json(), {
      tenant: "demo",
      id: "greet",
      version: 3,
    });
    const badRb = await p.app.request(
      "/api/v1/tenants/demo/packages/greet/rollback",
      { method: "POST", body: "{}" },
    );
    assert.equal(badRb.status, 400);
    assert.match((await badRb.json()).detail, /Invalid version "undefined"/);
    const del = await p.app.request("/api/v1/tenants/demo/packages/greet", {
      method: "DELETE",
    });
    assert.equal(del.status, 204);
    assert.equal(
      (await p.app.request("/api/v1/tenants/demo/packages/greet")).status,
      404,
    );
  } finally {
    await p.close();
  }
});

Deno.test("an invalid package is a 400 with every issue and its line and column; unresolved files a 422", async () => {
  const p = await testPlatform();
  try {
    const broken = await p.app.request("/api/v1/packages", {
      method: "POST",
      body: "id: x\ntenant: t\nqueues: [{id: q, colour: red}]\n",
    });
    assert.equal(broken.status, 400);
    assert.equal(
      broken.headers.get("content-type"),
      "application/problem+json",
    );
    const body = await broken.json();
    const colour = body.issues.find((i: { message: string }) =>
      /"colour"/.test(i.message)
    );
    assert.deepEqual([colour.line, colour.col], [3, 18]);
    assert.ok(
      body.issues.some((i: { message: string }) => /"jobs"/.test(i.message)),
    );

    const yaml = await Deno.readTextFile(new URL("job.yaml", examples));
    const unresolved = await p.app.request("/api/v1/packages", {
      method: "POST",
      body: yaml,
    });
    assert.equal(unresolved.status, 422);
    const issues = (await unresolved.json()).issues as {
      kind: string;
      message: string;
    }[];
    assert.ok(issues.every((i) => i.kind === "reference"));
    assert.ok(issues.some((i) => /greet\.wasm/.test(i.message)));

    const empty = await p.app.request("/api/v1/packages", {
      method: "POST",
      body: "  ",
    });
    assert.equal(empty.status, 400);
    const big = await p.app.request("/api/v1/packages", {
      method: "POST",
      body: "#".repeat(70 * 1024),
    });
    assert.equal(big.status, 413);
  } finally {
    await p.close();
  }
});
