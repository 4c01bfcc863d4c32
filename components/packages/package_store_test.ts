import assert from "node:assert/strict";
import {
  ConflictError,
  NotFoundError,
  UnresolvedError,
  ValidationError,
} from "@jobico/goico";
import {
  examples,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";
import { SEED_EXAMPLE } from "../model/_seed_example.ts";
import { MAX_EVENTS } from "./package_store.ts";

const greetYaml = () => Deno.readTextFile(new URL("job.yaml", examples));

Deno.test("each deploy is a new version; rollback copies an old one as a new version", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await greetYaml();
    assert.equal((await p.store.deploy(yaml)).version, 1);
    const renamed = yaml.replace(
      "name: Greeting example",
      "name: Greetings v2",
    );
    assert.equal((await p.store.deploy(renamed)).version, 2);
    assert.equal((await p.store.current("demo", "greet")).name, "Greetings v2");
    const back = await p.store.rollback("demo", "greet", 1);
    assert.equal(back.version, 3);
    const cur = await p.store.current("demo", "greet");
    assert.equal(cur.name, "Greeting example");
    assert.equal(cur.rollbackOf, 1);
    assert.equal(await p.store.source("demo", "greet", 3), yaml);
    const versions = await p.store.versions("demo", "greet");
    assert.deepEqual(versions.map((v) => [v.version, v.current]), [[1, false], [
      2,
      false,
    ], [3, true]]);
    await assert.rejects(p.store.rollback("demo", "greet", 9), NotFoundError);
  } finally {
    await p.close();
  }
});

Deno.test("deploy pins the content hash of every file the package uses", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    await p.repo.put("demo", "unrelated.json", new TextEncoder().encode("{}"));
    await p.store.deploy(await greetYaml());
    const v = await p.store.current("demo", "greet");
    assert.deepEqual(Object.keys(v.files).sort(), [
      "audit.wasm",
      "greet.schema.json",
      "greet.wasm",
      "result.schema.json",
    ]);
    const info = await p.repo.info("demo", "greet.wasm");
    assert.equal(v.files["greet.wasm"], info!.sha256);
  } finally {
    await p.close();
  }
});

Deno.test("the seed's example is refused naming queue1 and its line, and deploys once queue1 is declared", async () => {
  const p = await testPlatform();
  try {
    await p.repo.put(
      "m1",
      "schema.json",
      new TextEncoder().encode('{"type":"object"}'),
    );
    await p.repo.put(
      "m1",
      "greet.wasm",
      await Deno.readFile(new URL("greet.wasm", examples)),
    );
    const err = await p.store.deploy(SEED_EXAMPLE).catch((e) => e);
    assert.ok(err instanceof UnresolvedError, String(err));
    const issues = err.extra.issues as { message: string; line: number }[];
    assert.deepEqual(issues.map((i) => i.line), [27, 37]);
    for (const i of issues) assert.match(i.message, /"queue1"/);
    const fixed = SEED_EXAMPLE.replace(
      "    name: queue\n",
      "    name: queue\n  - id: queue1\n    name: queue1\n",
    );
    assert.equal((await p.store.deploy(fixed)).version, 1);
  } finally {
    await p.close();
  }
});

Deno.test("a package with structural errors is a 400 listing every issue", async () => {
  const p = await testPlatform();
  try {
    const err = await p.store.deploy("id: x\ntenant: t\nqueues: []\nextra: 1\n")
      .catch((e) => e);
    assert.ok(err instanceof ValidationError);
    const issues = err.extra.issues as { message: string }[];
    assert.ok(issues.length >= 3, JSON.stringify(issues));
    assert.ok(issues.some((i) => /"extra"/.test(i.message)));
    assert.ok(issues.some((i) => /"jobs"/.test(i.message)));
  } finally {
    await p.close();
  }
});

Deno.test("two packages of a tenant cannot declare the same event", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await greetYaml();
    await p.store.deploy(yaml);
    await assert.rejects(
      p.store.deploy(yaml.replace("id: greet\nname:", "id: greet2\nname:")),
      ConflictError,
    );
  } finally {
    await p.close();
  }
});

Deno.test("delete removes the package, its versions and its events", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    await p.store.deploy(await greetYaml());
    await p.store.deploy(await greetYaml(), { force: true });
    await p.store.delete("demo", "greet");
    await assert.rejects(p.store.current("demo", "greet"), NotFoundError);
    assert.equal(await p.store.ownerOf("demo", "greet"), null);
    assert.deepEqual(await p.store.list("demo"), []);
    assert.equal(
      (await Array.fromAsync(p.kv.list({ prefix: ["pkgver", "demo"] }))).length,
      0,
    );
    // The events are free again; the version numbers are never reused
    // (queued events and caches name a version by its number).
    assert.equal((await p.store.deploy(await greetYaml())).version, 3);
  } finally {
    await p.close();
  }
});

Deno.test("a package may declare up to MAX_EVENTS events; more is a 400 naming the count", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const pkg = (n: number) => `
id: many
tenant: demo
queues: [{id: q}]
jobs:
${
      Array.from({ length: n }, (_, i) =>
        `  - event: {id: e${i}, schema: {id: s, schemaref: greet.schema.json}, supplierqueue: q, runtime: r}`)
        .join("\n")
    }
runtimes:
  - {id: r, moduleref: greet.wasm}
`;
    assert.equal((await p.store.deploy(pkg(MAX_EVENTS))).version, 1);
    assert.equal(await p.store.ownerOf("demo", `e${MAX_EVENTS - 1}`), "many");
    await assert.rejects(
      p.store.deploy(pkg(MAX_EVENTS + 1)),
      (err: Error) =>
        err instanceof ValidationError &&
        err.message ===
          `Package "many" declares ${
            MAX_EVENTS + 1
          } events; a package may declare at most ${MAX_EVENTS} (split it into several packages)`,
    );
  } finally {
    await p.close();
  }
});

Deno.test("every version records who deployed it; rollback records who rolled back", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await greetYaml();
    const v1 = await p.store.deploy(yaml, { by: "tenant:demo" });
    assert.equal(v1.deployedBy, "tenant:demo");
    await p.store.deploy(yaml, { force: true });
    await p.store.rollback("demo", "greet", 1, { by: "tenant:demo" });
    const versions = await p.store.versions("demo", "greet");
    assert.deepEqual(
      versions.map((v) => [v.version, v.deployedBy]),
      [[1, "tenant:demo"], [2, "admin"], [3, "tenant:demo"]],
    );
    assert.equal((await p.store.list("demo"))[0].deployedBy, "tenant:demo");
  } finally {
    await p.close();
  }
});

Deno.test("authorize sees the package's tenant before any file is looked up", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const lookedUp: string[] = [];
    const list = p.repo.list.bind(p.repo);
    p.repo.list = (tenant) => {
      lookedUp.push(tenant);
      return list(tenant);
    };
    const refused = new Error("refused");
    const seen: string[] = [];
    const authorize = (tenant: string) => {
      seen.push(tenant);
      throw refused;
    };
    const yaml = await greetYaml();
    await assert.rejects(p.store.deploy(yaml, { authorize }), refused);
    await assert.rejects(p.store.plan(yaml, { authorize }), refused);
    assert.deepEqual(seen, ["demo", "demo"]);
    assert.deepEqual(lookedUp, []);
    assert.deepEqual(await p.store.list("demo"), []);
    // A broken package still names its tenant to authorize.
    await assert.rejects(
      p.store.deploy("tenant: other\nid: [\n", { authorize }),
      refused,
    );
    assert.deepEqual(seen.at(-1), "other");
    await p.store.deploy(yaml, { authorize: (t) => seen.push(t) });
    assert.deepEqual(lookedUp, ["demo"]);
  } finally {
    await p.close();
  }
});

Deno.test("plan validates like a deploy, stores nothing and lists the changes", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await greetYaml();
    const fresh = await p.store.plan(yaml);
    assert.equal(fresh.currentVersion, null);
    assert.equal(fresh.tenant, "demo");
    assert.equal(fresh.id, "greet");
    assert.ok(fresh.changes.every((c) => c.op === "added"));
    assert.deepEqual(await p.store.list("demo"), []);
    assert.equal(await p.store.ownerOf("demo", "greet"), null);

    await p.store.deploy(yaml);
    assert.deepEqual(await p.store.plan(yaml), {
      tenant: "demo",
      id: "greet",
      currentVersion: 1,
      changes: [],
      unchanged: true,
      // The greeting example's result schema is the envelope's: it accepts it.
      warnings: [],
    });

    // The same errors as a deploy.
    const broken = yaml.replace("supplierqueue: greetings", "supplierqueue: x");
    const [a, b] = await Promise.all([
      p.store.plan(broken).catch((e) => e),
      p.store.deploy(broken).catch((e) => e),
    ]);
    assert.ok(a instanceof UnresolvedError);
    assert.deepEqual(a.extra, b.extra);
    const clash = yaml.replace("id: greet\n", "id: other\n");
    await assert.rejects(p.store.plan(clash), ConflictError);

    // A re-uploaded schema and a changed runtime.
    await p.repo.put(
      "demo",
      "greet.schema.json",
      new TextEncoder().encode('{"type":"object"}'),
    );
    const changed = await p.store.plan(
      yaml.replace("mainfuncname: event\n    type: 0 # wasm", "type: 0"),
    );
    assert.deepEqual(
      changed.changes.map((c) => [c.kind, c.op, c.id]),
      [["file", "changed", "greet.schema.json"]],
    );

    // Files about to be uploaded resolve, and their hash is compared.
    const next = yaml.replace("moduleref: greet.wasm", "moduleref: new.wasm");
    await assert.rejects(p.store.plan(next), UnresolvedError);
    const sha = "ab".repeat(32);
    const pending = await p.store.plan(next, {
      pending: [
        { name: "new.wasm", kind: "wasm", sha256: sha },
        { name: "audit.wasm", kind: "wasm", sha256: sha },
      ],
    });
    assert.deepEqual(pending.changes.map((c) => [c.kind, c.id, c.fields]), [
      ["runtime", "greet-c", [{
        field: "module",
        before: "greet.wasm",
        after: "new.wasm",
      }]],
      ["file", "audit.wasm", [{
        field: "sha256",
        before: (await p.repo.info("demo", "audit.wasm"))!.sha256,
        after: sha,
      }]],
      ["file", "greet.schema.json", changed.changes[0].fields],
    ]);
    // A pending file of the wrong kind does not resolve.
    await assert.rejects(
      p.store.plan(next, {
        pending: [{ name: "new.wasm", kind: "schema", sha256: sha }],
      }),
      UnresolvedError,
    );
    assert.equal((await p.store.current("demo", "greet")).version, 1);
  } finally {
    await p.close();
  }
});

Deno.test("a deploy that changes nothing keeps the current version; a changed source, file or force makes a new one", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await greetYaml();
    const v1 = await p.store.deploy(yaml);
    assert.equal(v1.version, 1);
    assert.equal(v1.unchanged, undefined);
    // The same source, the same files: version 1 stays, and nothing is
    // announced (no definition change for the other processes).
    const announced = await p.definitions.latest();
    const again = await p.store.deploy(yaml, { by: "tenant:demo" });
    assert.deepEqual(
      { version: again.version, unchanged: again.unchanged },
      { version: 1, unchanged: true },
    );
    assert.equal(again.deployedBy, "admin");
    assert.equal(await p.definitions.latest(), announced);
    assert.equal((await p.store.versions("demo", "greet")).length, 1);
    // A comment changes the source: a new version (what was deployed is kept as written).
    const commented = yaml + "\n# a comment\n";
    assert.equal((await p.store.deploy(commented)).version, 2);
    assert.equal((await p.store.plan(commented)).unchanged, true);
    // A file uploaded again with other content: a new version pins it.
    const schema = JSON.parse(
      await Deno.readTextFile(new URL("greet.schema.json", examples)),
    );
    schema.description = "changed";
    await p.repo.put(
      "demo",
      "greet.schema.json",
      new TextEncoder().encode(JSON.stringify(schema)),
    );
    const plan = await p.store.plan(commented);
    assert.equal(plan.unchanged, false);
    assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.id}`), [
      "file greet.schema.json",
    ]);
    assert.equal((await p.store.deploy(commented)).version, 3);
    // Forced: a new version of the same content.
    const forced = await p.store.deploy(commented, { force: true });
    assert.equal(forced.version, 4);
    assert.equal(forced.unchanged, undefined);
  } finally {
    await p.close();
  }
});

Deno.test("a dry run never reads another tenant's file through a pending sha-256", async () => {
  const p = await testPlatform();
  try {
    const secret = JSON.stringify({
      type: "object",
      properties: {
        payload: {
          type: "object",
          required: ["victimAccountId"],
          properties: { key: { type: "string", pattern: "^VICTIM-[0-9]{6}$" } },
        },
      },
    });
    const info = await p.repo.put(
      "victim",
      "private.schema.json",
      new TextEncoder().encode(secret),
    );
    await p.repo.put(
      "attacker",
      "m.wasm",
      await Deno.readFile(new URL("greet.wasm", examples)),
    );
    const yaml = `id: probe
tenant: attacker
queues: [{id: q}]
jobs:
  - event:
      id: probe
      schema: {id: s, schemaref: x.json}
      supplierqueue: q
      runtime: r
      schedule: {cron: "0 0 * * *", payload: {key: "guess"}}
    result:
      ok:
        id: done
        schema: {id: d, schemaref: x.json}
        supplierqueue: q
        runtime: r
runtimes:
  - {id: r, moduleref: m.wasm}
`;
    // The victim's sha and an unknown one are answered alike: assumed,
    // not judged (before, the victim's schema was compiled and its
    // required member and pattern came back in the 400).
    for (const sha of [info.sha256, "1".repeat(64)]) {
      const plan = await p.store.plan(yaml, {
        pending: [{ name: "x.json", kind: "schema", sha256: sha }],
      });
      assert.equal(plan.tenant, "attacker");
      assert.deepEqual(plan.warnings, []);
      assert.ok(!JSON.stringify(plan).includes("victimAccountId"));
    }
    // The tenant's own content is judged as before.
    const own = await p.repo.put(
      "attacker",
      "own.json",
      new TextEncoder().encode(secret),
    );
    const err = await p.store.plan(yaml, {
      pending: [{ name: "x.json", kind: "schema", sha256: own.sha256 }],
    }).catch((e) => e);
    assert.ok(err instanceof ValidationError, String(err));
    assert.match(err.message, /victimAccountId/);
  } finally {
    await p.close();
  }
});
