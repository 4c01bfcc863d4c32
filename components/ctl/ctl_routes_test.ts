import assert from "node:assert/strict";
import { Hono } from "hono";
import { problemResponse } from "@jobico/goico";
import {
  examples,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";
import type { AuthVariables, Principal } from "../http/principal.ts";
import { ctlApp } from "./ctl_routes.ts";
import type { PackageStore } from "../packages/package_store.ts";

Deno.test("the package API deploys, lists, shows, versions, rolls back and deletes", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await Deno.readTextFile(new URL("job.yaml", examples));
    const deploy = (q = "") =>
      p.app.request(`/api/v1/packages${q}`, { method: "POST", body: yaml });
    const first = await deploy();
    assert.equal(first.status, 201);
    assert.deepEqual(await first.json(), {
      tenant: "demo",
      id: "greet",
      version: 1,
    });
    // The same source and files again: the current version is kept.
    const again = await deploy();
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), {
      tenant: "demo",
      id: "greet",
      version: 1,
      unchanged: true,
    });
    // Unless forced.
    const forced = await deploy("?force=true");
    assert.equal(forced.status, 201);
    assert.equal((await forced.json()).version, 2);
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
    // The Rollback schema's bounds, at and past each: a version the
    // schema refuses is a 400 naming it, before anything is looked up.
    for (
      const body of [
        "null",
        "[]",
        '{"version": 0}',
        '{"version": 1.5}',
        '{"version": "2"}',
        `{"version": ${Number.MAX_SAFE_INTEGER + 1}}`,
        '{"version": 1e400}',
      ]
    ) {
      const res = await p.app.request(
        "/api/v1/tenants/demo/packages/greet/rollback",
        { method: "POST", body },
      );
      assert.equal(res.status, 400, body);
      assert.match((await res.json()).detail, /^Invalid version "/, body);
    }
    // At the top bound: a well-formed version the package does not have.
    const far = await p.app.request(
      "/api/v1/tenants/demo/packages/greet/rollback",
      {
        method: "POST",
        body: `{"version": ${Number.MAX_SAFE_INTEGER}, "note": "ignored"}`,
      },
    );
    assert.equal(far.status, 404);
    await far.body?.cancel();
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

/** The package API behind a stand-in for the auth middleware. */
function asPrincipal(
  store: PackageStore,
  principal: Principal,
) {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.use("*", async (c, next) => {
    c.set("principal", principal);
    await next();
  });
  app.route("/", ctlApp(store));
  app.onError((err, c) => problemResponse(err, c.req.path));
  return app;
}

Deno.test("deploy and rollback record the principal; a tenant token cannot deploy for another tenant", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await Deno.readTextFile(new URL("job.yaml", examples));
    const demo = asPrincipal(p.store, { kind: "tenant", tenant: "demo" });
    const other = asPrincipal(p.store, { kind: "tenant", tenant: "other" });
    const post = (app: Hono<{ Variables: AuthVariables }>, q = "") =>
      app.request(`/api/v1/packages${q}`, { method: "POST", body: yaml });

    for (const q of ["", "?dryRun=true"]) {
      const refused = await post(other, q);
      assert.equal(refused.status, 403);
      assert.match(
        (await refused.json()).detail,
        /tenant "other" cannot access tenant "demo"/,
      );
    }
    assert.equal(await p.store.ownerOf("demo", "greet"), null);

    assert.equal((await post(demo)).status, 201);
    // No principal on the context: the admin (until the middleware is mounted).
    assert.equal(
      (await p.app.request("/api/v1/packages?force=true", {
        method: "POST",
        body: yaml,
      })).status,
      201,
    );
    const rollback = (app: Hono<{ Variables: AuthVariables }>) =>
      app.request("/api/v1/tenants/demo/packages/greet/rollback", {
        method: "POST",
        body: JSON.stringify({ version: 1 }),
      });
    assert.equal((await rollback(other)).status, 403);
    assert.equal((await rollback(demo)).status, 200);
    const { versions } = await (await p.app.request(
      "/api/v1/tenants/demo/packages/greet/versions",
    )).json();
    assert.deepEqual(
      versions.map((v: { version: number; deployedBy: string }) => [
        v.version,
        v.deployedBy,
      ]),
      [[1, "tenant:demo"], [2, "admin"], [3, "tenant:demo"]],
    );
  } finally {
    await p.close();
  }
});

Deno.test("a dry run answers the changes and stores nothing", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await Deno.readTextFile(new URL("job.yaml", examples));
    const dry = (body: string, q = "") =>
      p.app.request(`/api/v1/packages?dryRun=true${q}`, {
        method: "POST",
        body,
      });
    let res = await dry(yaml);
    assert.equal(res.status, 200);
    const fresh = await res.json();
    assert.equal(fresh.currentVersion, null);
    assert.deepEqual(
      fresh.changes.map((c: { kind: string; id: string }) =>
        `${c.kind} ${c.id}`
      ),
      [
        "event greet",
        "event greeted",
        "event greet-failed",
        "queue greetings",
        "queue audit",
        "runtime greet-c",
        "runtime audit-as",
      ],
    );
    assert.equal(
      (await p.app.request("/api/v1/tenants/demo/packages/greet")).status,
      404,
    );

    await p.store.deploy(yaml);
    res = await dry(yaml);
    assert.deepEqual(await res.json(), {
      tenant: "demo",
      id: "greet",
      currentVersion: 1,
      changes: [],
      unchanged: true,
    });

    // Same errors as a deploy.
    const bad = yaml.replace("moduleref: greet.wasm", "moduleref: nope.wasm");
    res = await dry(bad);
    assert.equal(res.status, 422);
    assert.match((await res.json()).issues[0].message, /nope\.wasm/);

    // ...unless the file is about to be uploaded.
    const sha = "0f".repeat(32);
    res = await dry(bad, `&file=nope.wasm:wasm:${sha}`);
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).changes, [{
      kind: "runtime",
      op: "changed",
      id: "greet-c",
      fields: [{ field: "module", before: "greet.wasm", after: "nope.wasm" }],
    }]);
    for (
      const [q, message] of [
        ["?dryRun=maybe", /Invalid dryRun "maybe"/],
        ["?file=nope.wasm:wasm:" + sha, /only for a dry run/],
        ["?dryRun=1&file=nope.wasm:exe:" + sha, /Invalid file/],
        ["?dryRun=1&file=../x:wasm:" + sha, /Invalid file name/],
      ] as const
    ) {
      res = await p.app.request(`/api/v1/packages${q}`, {
        method: "POST",
        body: bad,
      });
      assert.equal(res.status, 400, q);
      assert.match((await res.json()).detail, message);
    }
    assert.equal((await p.store.current("demo", "greet")).version, 1);
  } finally {
    await p.close();
  }
});
