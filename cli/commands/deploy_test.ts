/**
 * `deploy`, `redeploy` and `rollback` in the seed's forms, and dry runs:
 * against a fake fetch, then against the real platform over HTTP.
 */
import { sha256Hex } from "@jobico/goico";
import assert from "node:assert/strict";
import {
  captureIo,
  type CaptureOptions,
  fakeFetch,
  json,
  problem,
  type SeenRequest,
} from "../_capture_io.ts";
import { startPlatform } from "../../components/platform.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** A temporary folder with job.yaml, logic.wasm and event.json. */
async function withFiles(
  fn: (
    dir: string,
    files: { yaml: string; wasm: string; schema: string },
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/build`);
    const files = {
      yaml: `${dir}/job.yaml`,
      wasm: `${dir}/build/logic.wasm`,
      schema: `${dir}/event.json`,
    };
    await Deno.writeTextFile(files.yaml, "id: greet\ntenant: demo\n");
    await Deno.writeFile(files.wasm, new Uint8Array([0, 97, 115, 109, 1, 0]));
    await Deno.writeTextFile(files.schema, '{"type":"object"}');
    await fn(dir, files);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const route = (r: SeenRequest) =>
  `${r.method} ${r.url.pathname}${r.url.search}`;

/** A fake platform: package "greet" of "demo" at `current` (null: none). */
function fakePlatform(
  current: number | null,
  changes: unknown[] = [],
  files: unknown[] = [],
) {
  return fakeFetch((req) => {
    const p = req.url.pathname;
    if (p === "/api/v1/packages" && req.url.searchParams.has("dryRun")) {
      return json({
        tenant: "demo",
        id: "greet",
        currentVersion: current,
        changes,
      });
    }
    if (p === "/api/v1/packages") {
      return json({ tenant: "demo", id: "greet", version: (current ?? 0) + 1 });
    }
    if (p === "/api/v1/tenants/demo/files") return json({ files });
    if (req.method === "PUT") {
      const name = decodeURIComponent(p.split("/").at(-1)!);
      return json({
        name,
        kind: req.url.searchParams.get("kind"),
        size: req.body.length,
        sha256: "00".repeat(32),
        uploadedAt: "2025-01-02T03:04:05Z",
      }, 201);
    }
    return problem(404, "Not Found");
  });
}

Deno.test("deploy <package> --config --wasm --schema checks, uploads under the base names, then deploys", async () => {
  await withFiles(async (_dir, f) => {
    const fetch = fakePlatform(null);
    const r = await jobico(
      [
        "deploy",
        "greet",
        "--config",
        f.yaml,
        "--wasm",
        f.wasm,
        "--schema",
        f.schema,
      ],
      { fetch },
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Uploaded demo/logic.wasm\nUploaded demo/event.json\n" +
        "Deployed demo/greet version 1\n",
    );
    const wasmSha = await sha256Hex(await Deno.readFile(f.wasm));
    const schemaSha = await sha256Hex(await Deno.readFile(f.schema));
    assert.deepEqual(fetch.requests.map(route), [
      "POST /api/v1/packages?dryRun=true" +
      `&file=logic.wasm%3Awasm%3A${wasmSha}` +
      `&file=event.json%3Aschema%3A${schemaSha}`,
      "GET /api/v1/tenants/demo/files",
      "PUT /api/v1/tenants/demo/files/logic.wasm?kind=wasm",
      "PUT /api/v1/tenants/demo/files/event.json?kind=schema",
      "POST /api/v1/packages",
    ]);
    assert.equal(fetch.requests[0].body, "id: greet\ntenant: demo\n");
    assert.equal(fetch.requests[4].body, "id: greet\ntenant: demo\n");

    const j = await jobico(
      ["deploy", "greet", "--config", f.yaml, "--wasm", f.wasm, "--json"],
      { fetch: fakePlatform(1) },
    );
    assert.equal(j.code, 0, j.err);
    const out = JSON.parse(j.out);
    assert.equal(out.version, 2);
    assert.deepEqual(out.uploaded.map((u: { name: string }) => u.name), [
      "logic.wasm",
    ]);
  });
});

Deno.test("deploy and redeploy: an id that is not the YAML's exits 2 naming both, before any upload", async () => {
  await withFiles(async (_dir, f) => {
    for (const verb of ["deploy", "redeploy"]) {
      const fetch = fakePlatform(1);
      const r = await jobico(
        [verb, "other", "--config", f.yaml, "--wasm", f.wasm],
        { fetch },
      );
      assert.equal(r.code, 2, verb);
      assert.equal(r.out, "");
      const [line, hint] = r.err.trimEnd().split("\n");
      assert.equal(
        line,
        `error: Package "other" is not the package in ${f.yaml}: its id is "greet"`,
      );
      assert.equal(
        hint,
        `hint: Pass the id the YAML declares: jobico ${verb} greet --config ${f.yaml}`,
      );
      assert.deepEqual(fetch.requests.map((q) => q.method), ["POST"]);
      assert.ok(fetch.requests[0].url.searchParams.has("dryRun"));
    }
  });
});

Deno.test("redeploy of a package that does not exist exits 1 with a hint to deploy", async () => {
  await withFiles(async (_dir, f) => {
    const fetch = fakePlatform(null);
    let r = await jobico(["redeploy", "greet", "--config", f.yaml], { fetch });
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      'error: Package "greet" of tenant "demo" does not exist yet: there is nothing to redeploy\n' +
        `hint: Deploy it first: jobico deploy greet --config ${f.yaml}\n`,
    );
    r = await jobico(["redeploy", f.yaml], { fetch });
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`hint: Deploy it first: jobico deploy /`));
    assert.ok(fetch.requests.every((q) => q.url.search === "?dryRun=true"));

    const exists = fakePlatform(4);
    r = await jobico(["redeploy", "greet", "--config", f.yaml], {
      fetch: exists,
    });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Deployed demo/greet version 5\n");
  });
});

Deno.test("deploy --dry-run prints the changes and the files it would upload; nothing is sent", async () => {
  await withFiles(async (_dir, f) => {
    const wasmSha = await sha256Hex(await Deno.readFile(f.wasm));
    const changes = [
      {
        kind: "event",
        op: "changed",
        id: "greet",
        fields: [
          { field: "schema", before: "greet.schema.json", after: "event.json" },
        ],
      },
      { kind: "queue", op: "added", id: "audit" },
      { kind: "runtime", op: "removed", id: "old" },
      {
        kind: "runtime",
        op: "changed",
        id: "greet-c",
        fields: [
          { field: "module", before: "greet.wasm", after: "logic.wasm" },
          { field: "limits.fuel", after: 5000 },
        ],
      },
      {
        kind: "file",
        op: "changed",
        id: "logic.wasm",
        fields: [{ field: "sha256", before: "ab".repeat(32), after: wasmSha }],
      },
    ];
    const files = [
      { name: "logic.wasm", kind: "wasm", sha256: "ab".repeat(32) },
      { name: "event.json", kind: "schema", sha256: "cd".repeat(32) },
    ];
    const fetch = fakePlatform(3, changes, files);
    const other = `${_dir}/other.json`;
    await Deno.writeTextFile(other, "{}");
    const otherSha = await sha256Hex(await Deno.readFile(other));
    const r = await jobico(
      [
        "deploy",
        "greet",
        "--config",
        f.yaml,
        "--wasm",
        f.wasm,
        "--schema",
        other,
        "--dry-run",
      ],
      { fetch },
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Dry run of demo/greet (against version 3): nothing uploaded or deployed\n" +
        "Would upload:\n" +
        `  ~ wasm logic.wasm (content differs: abababababab → ${
          wasmSha.slice(0, 12)
        })\n` +
        "  + schema other.json (new file)\n" +
        "Changes against version 3:\n" +
        "  ~ event greet: schema greet.schema.json → event.json\n" +
        "  + queue audit\n" +
        "  - runtime old\n" +
        "  ~ runtime greet-c: module greet.wasm → logic.wasm, limits.fuel (default) → 5000\n" +
        `  ~ file logic.wasm: sha256 abababababab → ${wasmSha.slice(0, 12)}\n`,
    );
    assert.deepEqual(fetch.requests.map((q) => q.method), ["POST", "GET"]);

    const j = await jobico(
      ["deploy", "greet", "--config", f.yaml, "--schema", other, "--dry-run"],
      { fetch: fakePlatform(3, [], files), tty: true },
    );
    assert.equal(j.code, 0, j.err);
    assert.match(j.out, /\+ schema other\.json \(new file\)/);
    assert.match(
      j.out,
      /\nNo changes to events, queues, runtimes or files against version 3; the source differs, so a deploy makes a new version\n$/,
    );
    const js = await jobico(
      ["deploy", f.yaml, "--schema", other, "--dry-run", "--json"],
      { fetch: fakePlatform(3, changes, files) },
    );
    assert.equal(js.code, 0, js.err);
    assert.deepEqual(JSON.parse(js.out), {
      tenant: "demo",
      id: "greet",
      currentVersion: 3,
      changes,
      uploads: [{
        name: "other.json",
        kind: "schema",
        path: other,
        sha256: otherSha,
        status: "new",
      }],
    });
    // The single-file form, no uploads: only the dry run is sent.
    const plain = fakePlatform(null, [{ kind: "queue", op: "added", id: "q" }]);
    const p = await jobico(["deploy", f.yaml, "--dry-run"], { fetch: plain });
    assert.equal(
      p.out,
      "Dry run of demo/greet (a new package): nothing uploaded or deployed\n" +
        "Would create:\n  + queue q\n",
    );
    assert.deepEqual(plain.requests.map(route), [
      "POST /api/v1/packages?dryRun=true",
    ]);
  });
});

Deno.test("deploy: two files with one base name, or a missing one, exit 2 before any request", async () => {
  await withFiles(async (dir, f) => {
    const noFetch = fakeFetch(() => {
      throw new Error("fetch must not be called");
    });
    await Deno.writeFile(`${dir}/logic.wasm`, new Uint8Array([0]));
    let r = await jobico(
      ["deploy", f.yaml, "--wasm", f.wasm, "--wasm", `${dir}/logic.wasm`],
      { fetch: noFetch },
    );
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /^error: Files ".*" and ".*" would both be uploaded as "logic\.wasm"\n/,
    );
    r = await jobico([
      "deploy",
      "greet",
      "--config",
      f.yaml,
      "--schema",
      "nope.json",
    ], {
      fetch: noFetch,
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: File "nope\.json" not found/);
    r = await jobico(["deploy", "greet", "--config", "nope.yaml"], {
      fetch: noFetch,
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: File "nope\.yaml" not found/);
    assert.equal(noFetch.requests.length, 0);
  });
});

Deno.test("rollback <id>: the tenant from --tenant, JOBICO_TENANT, then the token", async () => {
  const fetch = (whoami: unknown) =>
    fakeFetch((req) =>
      req.url.pathname === "/api/v1/whoami"
        ? (whoami === 404 ? problem(404, "Not Found") : json(whoami))
        : json({
          tenant: req.url.pathname.split("/")[4],
          id: "greet",
          version: 4,
        })
    );
  const paths = (f: ReturnType<typeof fetch>) => f.requests.map(route);

  let f = fetch({ principal: "admin" });
  let r = await jobico([
    "rollback",
    "greet",
    "--version",
    "2",
    "--tenant",
    "t1",
  ], {
    fetch: f,
    env: { JOBICO_TENANT: "t2" },
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    "Rolled back t1/greet to version 2 (now current as version 4)\n",
  );
  r = await jobico(["rollback", "greet", "--version", "2"], {
    fetch: f,
    env: { JOBICO_TENANT: "t2" },
  });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(paths(f), [
    "POST /api/v1/tenants/t1/packages/greet/rollback",
    "POST /api/v1/tenants/t2/packages/greet/rollback",
  ]);
  assert.equal(f.requests[0].body, '{"version":2}');

  f = fetch({ principal: "tenant", tenant: "demo" });
  r = await jobico(["rollback", "greet", "--version", "1", "--json"], {
    fetch: f,
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).tenant, "demo");
  assert.deepEqual(paths(f), [
    "GET /api/v1/whoami",
    "POST /api/v1/tenants/demo/packages/greet/rollback",
  ]);

  for (const who of [{ principal: "admin" }, 404]) {
    f = fetch(who);
    r = await jobico(["rollback", "greet", "--version", "1"], { fetch: f });
    assert.equal(r.code, 2);
    const [line, hint] = r.err.trimEnd().split("\n");
    assert.match(line, /^error: Cannot tell the tenant of package "greet": /);
    assert.equal(
      hint,
      "hint: Pass --tenant <tenant>, set JOBICO_TENANT or a profile's tenant, e.g. jobico rollback greet --version 1 --tenant demo",
    );
    assert.deepEqual(paths(f), ["GET /api/v1/whoami"]);
  }

  f = fetch({ principal: "admin" });
  r = await jobico(
    ["rollback", "demo", "greet", "--version", "1", "--tenant", "demo"],
    { fetch: f },
  );
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /^error: Pass the tenant either as an argument or with --tenant/,
  );
  assert.equal(f.requests.length, 0);
});

// ---- The seed's workflow against the real platform, over real HTTP ----

const TOKEN = "deploy-test-admin-token";
const GREET = new URL("../../examples/greet/", import.meta.url);
const example = (name: string) =>
  decodeURIComponent(new URL(name, GREET).pathname);

Deno.test("platform: deploy --config --wasm --schema, redeploy with a dry run, versions, rollback <id>", async () => {
  const kv = await Deno.openKv(":memory:");
  const platform = await startPlatform({ kv, port: 0, adminToken: TOKEN });
  const dir = await Deno.makeTempDir();
  try {
    const cli = (...args: string[]) =>
      jobico(["--url", platform.url, "--token", TOKEN, ...args]);
    const yaml = example("job.yaml");
    let r = await cli(
      "deploy",
      "greet",
      "--config",
      yaml,
      "--wasm",
      example("greet.wasm"),
      "--wasm",
      example("audit.wasm"),
      "--schema",
      example("greet.schema.json"),
      "--schema",
      example("result.schema.json"),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Uploaded demo/greet.wasm\nUploaded demo/audit.wasm\n" +
        "Uploaded demo/greet.schema.json\nUploaded demo/result.schema.json\n" +
        "Deployed demo/greet version 1\n",
    );

    // A stricter schema and more fuel, as a redeploy: first a dry run.
    const strict = `${dir}/strict.schema.json`;
    const schema = JSON.parse(
      await Deno.readTextFile(example("greet.schema.json")),
    );
    schema.required = ["name", "lang"];
    schema.properties.lang = { type: "string" };
    await Deno.writeTextFile(strict, JSON.stringify(schema));
    const next = `${dir}/new.yaml`;
    await Deno.writeTextFile(
      next,
      (await Deno.readTextFile(yaml))
        .replace(
          "schemaref: greet.schema.json",
          "schemaref: strict.schema.json",
        )
        .replace(
          "moduleref: greet.wasm\n    mainfuncname: event\n",
          "moduleref: greet.wasm\n    mainfuncname: event\n    limits: {fuel: 5000000}\n",
        ),
    );
    r = await cli(
      "redeploy",
      "greet",
      "--config",
      next,
      "--schema",
      strict,
      "--dry-run",
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Dry run of demo/greet (against version 1): nothing uploaded or deployed\n" +
        "Would upload:\n  + schema strict.schema.json (new file)\n" +
        "Changes against version 1:\n" +
        "  ~ event greet: schema greet.schema.json → strict.schema.json\n" +
        "  ~ runtime greet-c: limits.fuel (default) → 5000000\n",
    );
    r = await cli("files", "list", "demo", "--json");
    assert.equal(
      JSON.parse(r.out).files.length,
      4,
      "the dry run uploaded nothing",
    );

    r = await cli("redeploy", "greet", "--config", next, "--schema", strict);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Uploaded demo/strict.schema.json\nDeployed demo/greet version 2\n",
    );
    r = await cli("deploy", "greet", "--config", next, "--dry-run");
    assert.equal(
      r.out.split("\n")[1],
      "Unchanged: a deploy would keep version 2 (--force makes a new one)",
    );
    // The same deploy again: nothing is uploaded, version 2 stays.
    const uploadsBefore = (await cli("files", "list", "demo", "--json")).out;
    r = await cli("redeploy", "greet", "--config", next, "--schema", strict);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Unchanged demo/strict.schema.json (not uploaded again)\n" +
        "Unchanged demo/greet: version 2 stays current (nothing changed; --force makes a new version)\n",
    );
    assert.equal(
      (await cli("files", "list", "demo", "--json")).out,
      uploadsBefore,
      "the file was not uploaded again",
    );
    r = await cli("deploy", next, "--json");
    assert.deepEqual(JSON.parse(r.out), {
      tenant: "demo",
      id: "greet",
      version: 2,
      unchanged: true,
    });
    // --force: a new version of the same content (rolled back below).
    r = await cli("deploy", next, "--force");
    assert.equal(r.out, "Deployed demo/greet version 3\n");

    r = await cli("rollback", "greet", "--version", "1", "--tenant", "demo");
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Rolled back demo/greet to version 1 (now current as version 4)\n",
    );
    r = await cli("packages", "versions", "demo", "greet");
    const lines = r.out.trimEnd().split("\n");
    assert.match(
      lines[0],
      /^VERSION\s+DEPLOYED\s+DEPLOYED BY\s+CURRENT\s+NOTE$/,
    );
    assert.match(lines[1], /^1\s+\S+ \S+\s+admin\s*$/);
    assert.match(lines[2], /^2\s+\S+ \S+\s+admin\s*$/);
    assert.match(lines[3], /^3\s+\S+ \S+\s+admin\s*$/);
    assert.match(lines[4], /^4\s+\S+ \S+\s+admin\s+\*\s+rollback to 1$/);
    r = await cli("packages", "versions", "demo", "greet", "--json");
    assert.deepEqual(
      JSON.parse(r.out).versions.map((v: { deployedBy: string }) =>
        v.deployedBy
      ),
      ["admin", "admin", "admin", "admin"],
    );

    // Mistakes: another id, a package that does not exist.
    r = await cli("redeploy", "nope", "--config", next);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /^error: Package "nope" is not the package in .*: its id is "greet"\n/,
    );
    const other = `${dir}/other.yaml`;
    await Deno.writeTextFile(
      other,
      (await Deno.readTextFile(next)).replace(/^id: greet$/m, "id: other")
        .replace(/( {2,}id: )(greet|greeted|greet-failed)\n/g, "$1$2-2\n"),
    );
    r = await cli("redeploy", "other", "--config", other);
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      /^error: Package "other" of tenant "demo" does not exist yet: there is nothing to redeploy\nhint: Deploy it first: jobico deploy other --config /,
    );
    r = await cli("deploy", "other", "--config", other);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Deployed demo/other version 1\n");

    // An invalid package is reported by the dry run, and nothing is uploaded.
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      bad,
      (await Deno.readTextFile(next)).replace(
        "supplierqueue: greetings",
        "supplierqueue: nope",
      ),
    );
    const extra = `${dir}/extra.wasm`;
    await Deno.copyFile(example("greet.wasm"), extra);
    r = await cli("deploy", "greet", "--config", bad, "--wasm", extra);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`^${bad}:\\d+:\\d+: .*"nope"`));
    r = await cli("files", "list", "demo", "--json");
    assert.ok(
      !JSON.parse(r.out).files.some((f: { name: string }) =>
        f.name === "extra.wasm"
      ),
    );
  } finally {
    await platform.close();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("platform: a tenant's token deploys as tenant:demo, rolls back by id alone, and cannot deploy for another tenant", async () => {
  const kv = await Deno.openKv(":memory:");
  const platform = await startPlatform({ kv, port: 0, adminToken: TOKEN });
  try {
    const tokenOf = async (tenant: string) => {
      const res = await fetch(`${platform.url}/api/v1/tenants`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ id: tenant }),
      });
      assert.equal(res.status, 201);
      return (await res.json()).token as string;
    };
    const demo = await tokenOf("demo");
    const other = await tokenOf("other");
    const as = (token: string, ...args: string[]) =>
      jobico(["--url", platform.url, "--token", token, ...args]);
    const files = [
      "--wasm",
      example("greet.wasm"),
      "--wasm",
      example("audit.wasm"),
      "--schema",
      example("greet.schema.json"),
      "--schema",
      example("result.schema.json"),
    ];
    const yaml = example("job.yaml");

    // Another tenant's token is refused before anything is uploaded.
    let r = await as(other, "deploy", "greet", "--config", yaml, ...files);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /tenant "other" cannot access tenant "demo".*\(HTTP 403\)/,
    );
    r = await as(TOKEN, "files", "list", "demo", "--json");
    assert.deepEqual(JSON.parse(r.out).files, []);

    r = await as(demo, "deploy", "greet", "--config", yaml, ...files);
    assert.equal(r.code, 0, r.err);
    r = await as(TOKEN, "redeploy", yaml, "--force");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Deployed demo/greet version 2\n");
    r = await as(demo, "rollback", "greet", "--version", "1");
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Rolled back demo/greet to version 1 (now current as version 3)\n",
    );
    r = await as(TOKEN, "rollback", "greet", "--version", "1");
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /the admin token belongs to no tenant\nhint: Pass --tenant/,
    );

    r = await as(demo, "packages", "versions", "demo", "greet", "--json");
    assert.deepEqual(
      JSON.parse(r.out).versions.map((
        v: { version: number; deployedBy: string },
      ) => [v.version, v.deployedBy]),
      [[1, "tenant:demo"], [2, "admin"], [3, "tenant:demo"]],
    );
    r = await as(demo, "packages", "versions", "demo", "greet");
    assert.match(
      r.out,
      /\n1\s+\S+ \S+\s+tenant:demo\s*\n2\s+\S+ \S+\s+admin\s*\n/,
    );
  } finally {
    await platform.close();
    kv.close();
  }
});
