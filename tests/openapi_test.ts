/**
 * The API description (`GET /api/v1/openapi.json`, `GET /docs`):
 * - the document is OpenAPI 3.1 (checked by a validator of the OpenAPI
 *   schema and by hand), and its operations are exactly the app's routes,
 *   so neither can change without the other;
 * - every operation answers as described, on a real server: called with
 *   valid values and with invalid ones (no or wrong token, another tenant's
 *   token, bad names in each path segment, bad queries and bodies, unknown
 *   things, conflicts, limits), each answer's status must be one the
 *   operation lists and its body must match that status's schema
 *   (tests/_openapi_checker.ts). What the server accepts the document must
 *   allow, and a bad value the server refuses the document must refuse.
 */
import assert from "node:assert/strict";
import { inspectRoutes } from "hono/dev";
import { signWebhook } from "../components/listener/webhook_signature.ts";
import { VERSION } from "../components/version.ts";
import {
  FILE_NAME_PATTERN,
  NAME_PATTERN,
} from "../components/openapi/schemas.ts";
import { deployGreet, startHarness } from "./_harness.ts";
import { type Call, type Json, OpenApiChecker } from "./_openapi_checker.ts";
import { validateOpenApi } from "./_validate_openapi.ts";
import {
  createGreetTenant,
  type PackageNames,
  packageYaml,
} from "./_security_world.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";

const q = JSON.stringify;
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];
/** Operations that need no credentials. */
const PUBLIC_OPS = [
  "GET /",
  "GET /healthz",
  "GET /meta",
  "GET /api/v1/openapi.json",
  "GET /docs",
];

/** A package of demo whose event traps with no retries: dead letters. */
const VAULT: PackageNames = {
  tenant: "demo",
  id: "vault",
  queue: "vault-q",
  event: "crash",
  runtime: "trap",
  module: "trap.wasm",
  schema: "any.json",
};

/** Every operation of the document, as `METHOD /path`. */
function operations(spec: Json): string[] {
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.keys(item as object).filter((m) => METHODS.includes(m)).map((m) =>
      `${m.toUpperCase()} ${path}`
    )
  );
}

/** Every `$ref` in the document. */
function refs(node: Json, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

Deno.test("openapi: the document describes every route, and every route answers as described", async (t) => {
  const h = await startHarness({
    workers: 2,
    retryBaseMs: 20,
    // 51 items in one request are refused with a 429.
    maxQueueDepth: 50,
  });
  try {
    const res = await fetch(h.url + "/api/v1/openapi.json");
    assert.equal(res.status, 200);
    const spec = await res.json();
    const check = new OpenApiChecker(spec, h.url);

    await t.step("the document is OpenAPI 3.1", async () => {
      assert.match(spec.openapi, /^3\.1\.\d+$/);
      const result = await validateOpenApi(spec);
      assert.deepEqual(result.errors, [], "the OpenAPI 3.1 schema");
      assert.equal(result.valid, true);
      assert.equal(result.version, "3.1");
      assert.ok(spec.info.title && spec.info.version);
      assert.deepEqual(Object.keys(spec.components.securitySchemes).sort(), [
        "bearerAuth",
        "webhookSignature",
      ]);
      assert.equal(
        spec.components.securitySchemes.webhookSignature.name,
        "Jobico-Signature",
      );
      assert.deepEqual(spec.security, [{ bearerAuth: [] }]);
      for (const r of refs(spec)) check.resolve({ $ref: r });
      // Every schema compiles (Ajv, strict).
      for (const name of Object.keys(spec.components.schemas)) {
        check.validator({ $ref: `#/components/schemas/${name}` });
      }
    });

    await t.step("its operations are exactly the app's routes", () => {
      const routes = new Set(
        inspectRoutes(h.platform.app)
          .filter((r) => !r.isMiddleware && r.method !== "ALL")
          .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
      );
      const ops = new Set(operations(spec));
      const undescribed = [...routes].filter((r) => !ops.has(r));
      const invented = [...ops].filter((o) => !routes.has(o));
      assert.deepEqual(
        undescribed,
        [],
        "routes the document lacks: describe them with describeRoute",
      );
      assert.deepEqual(invented, [], "operations that are no route");
      console.log(
        `${ops.size} operations on ${Object.keys(spec.paths).length} paths`,
      );
    });

    await t.step("every operation is described in full", () => {
      const tags = new Set(spec.tags.map((x: Json) => x.name));
      const ids = new Set<string>();
      for (const op of operations(spec)) {
        const o = check.operation(op);
        assert.ok(o.summary, `${op}: summary`);
        assert.ok(
          o.tags?.length && o.tags.every((x: string) => tags.has(x)),
          `${op}: tags`,
        );
        assert.ok(
          o.operationId && !ids.has(o.operationId),
          `${op}: operationId`,
        );
        ids.add(o.operationId);
        const statuses = Object.keys(o.responses);
        assert.ok(statuses.some((s) => /^2/.test(s)), `${op}: a 2xx`);
        const isPublic = PUBLIC_OPS.includes(op);
        assert.equal(
          Array.isArray(o.security) && o.security.length === 0,
          isPublic,
          `${op}: public or not`,
        );
        if (!isPublic) assert.ok(statuses.includes("401"), `${op}: 401`);
        for (const s of statuses.filter((s) => /^4/.test(s))) {
          const r = check.resolve(o.responses[s]);
          assert.deepEqual(
            Object.keys(r.content),
            ["application/problem+json"],
            `${op} ${s}: problem+json`,
          );
          assert.equal(
            r.content["application/problem+json"].schema.$ref,
            "#/components/schemas/Problem",
          );
        }
        // Each {name} of the path has a path parameter with the name pattern.
        const path = op.split(" ")[1];
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const params = (o.parameters ?? []).filter((p: Json) =>
          p.in === "path"
        );
        assert.deepEqual(
          params.map((p: Json) => p.name),
          inPath,
          `${op}: path parameters`,
        );
        for (const p of params) {
          assert.equal(p.required, true);
          assert.equal(
            p.schema.pattern,
            p.name === "name" ? FILE_NAME_PATTERN : NAME_PATTERN,
            `${op}: the pattern of {${p.name}}`,
          );
        }
      }
      assert.equal(NAME_PATTERN, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
      const send = check.operation("POST /events/{tenant}/{event}");
      assert.ok(
        send.parameters.some((p: Json) => p.name === "Idempotency-Key"),
      );
      assert.deepEqual(send.security, [
        { bearerAuth: [] },
        { webhookSignature: [] },
        {},
      ]);
    });

    await t.step("every operation answers as described", async () => {
      await answersAsDescribed(h, check);
    });
  } finally {
    await h.close();
  }
});

async function answersAsDescribed(
  h: Awaited<ReturnType<typeof startHarness>>,
  check: OpenApiChecker,
): Promise<void> {
  const admin = { authorization: `Bearer ${h.adminToken}` };
  const yaml = { ...admin, "content-type": "application/yaml" };
  const json = { ...admin, "content-type": "application/json" };
  /** Calls, asserts the status and that the document agrees on what was sent. */
  const expect = async (
    c: Call,
    statuses: number[],
    read?: (res: Response) => Promise<string>,
  ) => {
    const a = await check.call(c, read);
    const label = `${c.label ?? c.op} (${q(c.params ?? {})} ${
      q(c.query ?? {})
    })`;
    assert.ok(
      statuses.includes(a.status),
      `${label}: ${a.status}, expected ${statuses.join(" or ")}: ${
        a.text.slice(0, 300)
      }`,
    );
    if (a.status < 300) {
      assert.deepEqual(
        a.requestErrors,
        [],
        `${label}: the server accepts what the document refuses`,
      );
    }
    return a;
  };
  /** A bad value the server refuses with a 400: the document refuses it too. */
  const refused = async (c: Call, statuses = [400]) => {
    const a = await expect(c, statuses);
    if (a.status === 400) {
      assert.ok(
        !a.requestValid,
        `${c.label ?? c.op}: the document allows what the server refuses (${
          a.text.slice(0, 200)
        })`,
      );
    }
    return a;
  };

  // The service routes, without a token.
  const root = await expect({ op: "GET /" }, [200]);
  assert.deepEqual(root.body, {
    name: "jobico",
    version: VERSION,
    docs: "/docs",
    openapi: "/api/v1/openapi.json",
    health: "/healthz",
  });
  // A browser gets the same pointers as links (content negotiation, which
  // the document describes as its text/html answer).
  const rootPage = await fetch(`${h.url}/`, {
    headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
  });
  assert.equal(
    rootPage.headers.get("content-type"),
    "text/html; charset=UTF-8",
  );
  const html = await rootPage.text();
  assert.match(html, /<a href="\/docs">/);
  assert.match(html, /<a href="\/api\/v1\/openapi\.json">/);
  await expect({ op: "GET /healthz" }, [200]);
  const meta = await expect({ op: "GET /meta" }, [200]);
  assert.equal((meta.body as Json).name, "jobico");
  await expect({ op: "GET /api/v1/openapi.json" }, [200]);
  const docs = await expect({ op: "GET /docs" }, [200]);
  assert.match(docs.text, /Jobico API reference/);
  assert.match(docs.text, /<a href="\/api\/v1\/openapi\.json">/);
  await expect({ op: "GET /metrics" }, [401]);
  const metrics = await expect({ op: "GET /metrics", headers: admin }, [200]);
  assert.match(metrics.text, /^# HELP jobico_/m);

  // Tenants.
  await deployGreet(h);
  const acme = await expect({
    op: "POST /api/v1/tenants",
    headers: json,
    body: q({ id: "acme" }),
  }, [201]);
  let acmeToken = (acme.body as Json).token as string;
  await expect(
    { op: "POST /api/v1/tenants", headers: json, body: q({ id: "acme" }) },
    [409],
  );
  await refused({ op: "POST /api/v1/tenants", headers: json, body: "{" });
  await refused({
    op: "POST /api/v1/tenants",
    headers: json,
    body: q({ id: "-acme" }),
  });
  await expect({
    op: "POST /api/v1/tenants",
    headers: json,
    body: q({ id: "a".repeat(5000) }),
  }, [413]);
  await expect({
    op: "POST /api/v1/tenants",
    headers: { authorization: `Bearer ${acmeToken}` },
    body: q({ id: "other" }),
  }, [403]);
  await expect({ op: "GET /api/v1/whoami", headers: admin }, [200]);
  const who = await expect({
    op: "GET /api/v1/whoami",
    headers: { authorization: `Bearer ${acmeToken}` },
  }, [200]);
  assert.deepEqual(who.body, { principal: "tenant", tenant: "acme" });
  await expect({ op: "GET /api/v1/tenants", headers: admin }, [200]);
  await expect({
    op: "GET /api/v1/tenants",
    headers: { authorization: `Bearer ${acmeToken}` },
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}",
    params: { tenant: "acme" },
    headers: admin,
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}",
    params: { tenant: "nobody" },
    headers: admin,
  }, [404]);
  // Retention and quotas.
  const settings = (tenant: string, body: unknown, headers = admin) => ({
    op: "PATCH /api/v1/tenants/{tenant}",
    params: { tenant },
    headers: { ...headers, "content-type": "application/json" },
    body: q(body),
  });
  const patched = await expect(
    settings("acme", { retention: { days: 30 }, quotas: { files: 1 } }),
    [200],
  );
  assert.deepEqual((patched.body as Json).settings, {
    retention: { days: 30 },
    quotas: { files: 1 },
  });
  await expect(settings("acme", { retention: { days: -1 } }), [400]);
  await expect(settings("acme", { quota: {} }), [400]);
  await expect(settings("nobody", { retention: { days: 1 } }), [404]);
  await expect({
    ...settings("acme", {}),
    body: q({ retention: { days: 1, x: "y".repeat(5000) } }),
  }, [413]);
  await expect({ op: "GET /api/v1/retention", headers: admin }, [200]);
  const rotated = await expect({
    op: "POST /api/v1/tenants/{tenant}/token",
    params: { tenant: "acme" },
    headers: { authorization: `Bearer ${acmeToken}` },
  }, [201]);
  acmeToken = (rotated.body as Json).token;
  const acmeAuth = { authorization: `Bearer ${acmeToken}` };
  await expect({
    op: "POST /api/v1/tenants/{tenant}/token",
    params: { tenant: "nobody" },
    headers: admin,
  }, [404]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/webhook-secret",
    params: { tenant: "demo" },
    headers: admin,
  }, [200]);
  const secrets = await expect({
    op: "POST /api/v1/tenants/{tenant}/webhook-secret",
    params: { tenant: "acme" },
    headers: acmeAuth,
  }, [201]);
  assert.ok((secrets.body as Json).previous);

  // Files.
  const trap = await compileWat("trap");
  await expect({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "trap.wasm" },
    headers: { ...admin, "content-type": "application/wasm" },
    body: trap,
  }, [201]);
  await expect({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "any" },
    query: { kind: "schema" },
    headers: { ...admin, "content-type": "application/schema+json" },
    body: "{}",
  }, [201]);
  await expect({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "any.json" },
    headers: { ...admin, "content-type": "application/schema+json" },
    body: "{}",
  }, [201]);
  await refused({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "x.wasm" },
    query: { kind: "js" },
    headers: admin,
    body: trap,
  });
  for (
    const [label, body] of [
      ["an empty file", ""],
      ["a module that is not wasm", "not a module"],
    ]
  ) {
    await expect({
      op: "PUT /api/v1/tenants/{tenant}/files/{name}",
      label,
      params: { tenant: "demo", name: "bad.wasm" },
      headers: admin,
      body,
    }, [400]);
  }
  await expect({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    label: "a schema over 256 KiB",
    params: { tenant: "demo", name: "big.json" },
    headers: { ...admin, "content-type": "application/schema+json" },
    body: `{"description":"${"x".repeat(256 * 1024)}"}`,
  }, [413]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/files",
    params: { tenant: "demo" },
    headers: admin,
  }, [200]);
  const wasm = await expect({
    op: "GET /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "trap.wasm" },
    headers: admin,
  }, [200]);
  assert.equal(wasm.headers.get("content-type"), "application/wasm");
  await expect({
    op: "GET /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "greet.schema.json" },
    headers: admin,
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "missing.wasm" },
    headers: admin,
  }, [404]);

  await expect({
    op: "DELETE /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "any" },
    headers: admin,
  }, [204]);
  await expect({
    op: "DELETE /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "demo", name: "any" },
    headers: admin,
  }, [404]);
  // Over its quotas (acme may have one file).
  await expect({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    params: { tenant: "acme", name: "one.json" },
    headers: { ...admin, "content-type": "application/schema+json" },
    body: "{}",
  }, [201]);
  const overFiles = await expect({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    label: "a file over the files quota",
    params: { tenant: "acme", name: "two.json" },
    headers: { ...admin, "content-type": "application/schema+json" },
    body: "{}",
  }, [429]);
  assert.equal((overFiles.body as Json).quota, "files");
  await expect(settings("acme", { quotas: { files: null, bytes: 10 } }), [200]);
  const overBytes = await expect({
    op: "PUT /api/v1/tenants/{tenant}/files/{name}",
    label: "a file over the bytes quota",
    params: { tenant: "acme", name: "two.json" },
    headers: { ...admin, "content-type": "application/schema+json" },
    body: '{"description": "more than ten bytes"}',
  }, [413]);
  assert.equal((overBytes.body as Json).quota, "bytes");

  // Packages.
  const deploy = (
    body: string,
    extra: Partial<Call> = {},
    headers: Record<string, string> = yaml,
  ): Call => ({ op: "POST /api/v1/packages", headers, body, ...extra });
  const plan = await expect(
    deploy(packageYaml(VAULT), {
      query: { dryRun: "true" },
      label: "dry run",
    }),
    [200],
  );
  assert.equal((plan.body as Json).currentVersion, null);
  await expect(
    deploy(packageYaml({ ...VAULT, module: "later.wasm" }), {
      query: { dryRun: "1", file: [`later.wasm:wasm:${"0".repeat(64)}`] },
      label: "dry run with a pending file",
    }),
    [200],
  );
  await expect(deploy(packageYaml(VAULT)), [201]);
  // The same package as JSON: its body must match the JobPackage schema.
  const asJson = {
    id: "vault",
    tenant: "demo",
    queues: [{ id: "vault-q" }],
    jobs: [{
      event: {
        id: "crash",
        schema: { id: "s", schemaref: "any.json" },
        supplierqueue: "vault-q",
        runtime: "trap",
      },
    }],
    runtimes: [{ id: "trap", moduleref: "trap.wasm", retries: 0 }],
  };
  await expect(deploy(q(asJson), {}, json), [201]);
  await expect(
    deploy(packageYaml({ ...VAULT, module: "nowhere.wasm" }), {
      label: "an unresolved module",
    }),
    [422],
  );
  await expect(
    deploy("id: [unclosed\n", { label: "broken YAML" }),
    [400],
  );
  await expect(deploy("", { label: "an empty package" }), [400]);
  await refused(deploy(packageYaml(VAULT), { query: { dryRun: "yes" } }));
  await refused(
    deploy(packageYaml(VAULT), { query: { file: ["x:wasm:00"] } }),
  );
  await expect(
    deploy(packageYaml(VAULT) + "#".repeat(61 * 1024), { label: "60 KiB + 1" }),
    [413],
  );
  await expect(
    deploy(packageYaml(VAULT), { label: "another tenant's package" }, {
      ...acmeAuth,
      "content-type": "application/yaml",
    }),
    [403],
  );
  await expect(
    deploy(packageYaml({ ...VAULT, id: "thief", event: "greet" }), {
      label: "an event of another package",
    }),
    [409],
  );
  await expect({
    op: "GET /api/v1/tenants/{tenant}/packages",
    params: { tenant: "demo" },
    headers: admin,
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/packages/{id}",
    params: { tenant: "demo", id: "greet" },
    headers: admin,
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/packages/{id}",
    params: { tenant: "demo", id: "vault" },
    headers: admin,
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/packages/{id}",
    params: { tenant: "demo", id: "nothing" },
    headers: admin,
  }, [404]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/packages/{id}/versions",
    params: { tenant: "demo", id: "vault" },
    headers: admin,
  }, [200]);
  const rollback = (body: string, id = "vault"): Call => ({
    op: "POST /api/v1/tenants/{tenant}/packages/{id}/rollback",
    params: { tenant: "demo", id },
    headers: json,
    body,
    label: `rollback ${body.slice(0, 30)}`,
  });
  await expect(rollback(q({ version: 1 })), [200]);
  await expect(rollback(q({ version: 99 })), [404]);
  await expect(rollback(q({ version: 1 }), "nothing"), [404]);
  await refused(rollback(q({ version: 0 })));
  await refused(rollback(q({ version: "1" })));
  await expect(rollback("not json"), [400]);
  await expect(rollback(q({ version: 1, pad: "x".repeat(5000) })), [413]);

  // Events.
  const sendOp = "POST /events/{tenant}/{event}";
  const send = (
    items: unknown[],
    extra: Partial<Call> = {},
    params = { tenant: "demo", event: "greet" },
  ): Call => ({
    op: sendOp,
    params,
    headers: json,
    body: q({ data: items }),
    ...extra,
  });
  await expect(send([{ name: "Ada" }, { name: "Grace" }]), [200]);
  const idem = { ...json, "idempotency-key": "order-1" };
  const first = await expect(send([{ name: "Once" }], { headers: idem }), [
    200,
  ]);
  const again = await expect(send([{ name: "Once" }], { headers: idem }), [
    200,
  ]);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  await refused(
    send([{ name: "Bad key" }], {
      headers: { ...json, "idempotency-key": "a b" },
    }),
  );
  await refused(send([], { label: "an empty data list" }));
  await refused({ ...send([]), body: q({ items: [] }), label: "no data" });
  await expect(
    send([{ nom: "Ada" }], { label: "an item against the schema" }),
    [400],
  );
  await expect(
    send([{ name: "x" }], {}, { tenant: "demo", event: "nothing" }),
    [404],
  );
  await expect(
    send([{ name: "x" }], {}, { tenant: "nobody", event: "greet" }),
    [404],
  );
  await expect(
    send(Array.from({ length: 501 }, () => ({ name: "Many" })), {
      label: "501 items",
    }),
    [413],
  );
  await expect(
    send(Array.from({ length: 51 }, () => ({ name: "Full" })), {
      label: "more than the queue may hold",
    }),
    [429],
  );
  await expect(send([{ name: "x" }], { headers: acmeAuth }), [403]);
  await expect(
    send([{ s: "dies" }], {}, { tenant: "demo", event: "crash" }),
    [200],
  );
  // A signed (hmac) event: the signature once, a replay or none refused.
  await createGreetTenant(h, "signed", "hmac");
  const { secret } = (await expect({
    op: "GET /api/v1/tenants/{tenant}/webhook-secret",
    params: { tenant: "signed" },
    headers: admin,
  }, [200])).body as Json;
  const body = q({ data: [{ name: "Signed" }] });
  const signature = await signWebhook(
    secret,
    body,
    Math.floor(Date.now() / 1000),
  );
  const signed: Call = {
    op: sendOp,
    params: { tenant: "signed", event: "greet" },
    headers: {
      "content-type": "application/json",
      "jobico-signature": signature,
    },
    body,
  };
  await expect(signed, [200]);
  await expect({ ...signed, label: "a replayed signature" }, [401]);
  await expect({
    ...signed,
    headers: { "content-type": "application/json" },
    label: "no signature",
  }, [401]);

  // Executions.
  const execs = await h.waitFor(
    "demo",
    (e) =>
      e.some((x) => x.event === "greeted") &&
      e.some((x) => x.event === "crash"),
  );
  assert.ok(execs.length >= 2);
  // Delayed events, cancel and re-run.
  const delayed = await expect(
    send([{ name: "Later" }], { query: { delay: "1h" }, label: "delayed" }),
    [200],
  );
  const laterId = (delayed.body as Json).ids[0];
  await refused(send([{ name: "Never" }], { query: { runAt: "NaN" } }));
  const listed = await expect({
    op: "GET /api/v1/tenants/{tenant}/queues/{queue}/delayed",
    params: { tenant: "demo", queue: "greetings" },
    headers: admin,
  }, [200]);
  assert.deepEqual(
    (listed.body as Json).delayed.map((d: Json) => [d.id, d.event]),
    [[laterId, "greet"]],
  );
  await refused({
    op: "GET /api/v1/tenants/{tenant}/queues/{queue}/delayed",
    params: { tenant: "demo", queue: "greetings" },
    query: { cursor: "!!" },
    headers: admin,
  });
  const limitsOp = "GET /api/v1/tenants/{tenant}/queues/{queue}/limits";
  const limits = await expect({
    op: limitsOp,
    params: { tenant: "demo", queue: "greetings" },
    headers: admin,
  }, [200]);
  assert.equal((limits.body as Json).queue, "greetings");
  await expect({
    op: limitsOp,
    params: { tenant: "demo", queue: "nope" },
    headers: admin,
  }, [404]);
  const schedules = await expect({
    op: "GET /api/v1/tenants/{tenant}/schedules",
    params: { tenant: "demo" },
    headers: admin,
  }, [200]);
  assert.ok(Array.isArray((schedules.body as Json).schedules));
  await expect({
    op: "GET /api/v1/tenants/{tenant}/schedules",
    params: { tenant: "nobody" },
    headers: admin,
  }, [404]);
  const cancelOp = "DELETE /api/v1/tenants/{tenant}/events/{event}/items/{id}";
  await expect({
    op: cancelOp,
    params: { tenant: "demo", event: "greet", id: laterId },
    headers: admin,
  }, [200]);
  await expect({
    op: cancelOp,
    params: { tenant: "demo", event: "greet", id: laterId },
    headers: admin,
  }, [404]);
  const rerunOp = "POST /api/v1/tenants/{tenant}/executions/{id}/rerun";
  await expect({
    op: rerunOp,
    params: { tenant: "demo", id: execs.find((e) => e.event === "greet")!.id },
    headers: admin,
  }, [200]);
  await expect({
    op: rerunOp,
    params: { tenant: "demo", id: "0000000000000000000" },
    headers: admin,
  }, [404]);
  const listOp = "GET /api/v1/tenants/{tenant}/executions";
  const page = await expect({
    op: listOp,
    params: { tenant: "demo" },
    query: { limit: "1" },
    headers: admin,
  }, [200]);
  const cursor = (page.body as Json).cursor;
  assert.ok(cursor);
  await expect({
    op: listOp,
    params: { tenant: "demo" },
    query: { cursor, status: "ok", event: "greet", package: "greet" },
    headers: admin,
  }, [200]);
  const badQueries: Record<string, string>[] = [
    { limit: "0" },
    { limit: "1001" },
    { limit: "abc" },
    { status: "done" },
    { event: "-x" },
    { cursor: "!!" },
  ];
  for (const query of badQueries) {
    await refused({
      op: listOp,
      params: { tenant: "demo" },
      query,
      headers: admin,
    });
  }
  await expect(
    {
      op: "GET /api/v1/tenants/{tenant}/executions/stream",
      params: { tenant: "demo" },
      query: { event: "greet" },
      headers: admin,
    },
    [200],
    async (res) => {
      assert.match(
        res.headers.get("content-type") ?? "",
        /^text\/event-stream/,
      );
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      try {
        await h.send("demo", "greet", [{ name: "Streamed" }]);
        const deadline = Date.now() + 10_000;
        while (!seen.includes("Streamed") && Date.now() < deadline) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += value;
        }
      } finally {
        await reader.cancel();
      }
      // Each frame's data is an Execution.
      const frames = seen.split("\n\n").filter((f) => f.includes("data:"));
      assert.ok(frames.length > 0, "no execution was streamed");
      for (const f of frames) {
        assert.match(f, /^event: execution$/m);
        const data = f.split("\n").filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6)).join("\n");
        assert.deepEqual(
          check.errors(
            { $ref: "#/components/schemas/Execution" },
            JSON.parse(data),
          ),
          [],
        );
      }
      return "";
    },
  );
  await refused({
    op: "GET /api/v1/tenants/{tenant}/executions/stream",
    params: { tenant: "demo" },
    query: { status: "done" },
    headers: admin,
  });

  // Queues and dead letters.
  const deadline = Date.now() + 10_000;
  let dead: Json[] = [];
  while (Date.now() < deadline) {
    dead = ((await expect({
      op: "GET /api/v1/tenants/{tenant}/queues/{queue}/dead",
      params: { tenant: "demo", queue: "vault-q" },
      headers: admin,
    }, [200])).body as Json).dead;
    if (dead.length > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(dead.length, 1, "the crash never became a dead letter");
  await expect({
    op: "GET /api/v1/tenants/{tenant}/queues",
    params: { tenant: "demo" },
    headers: admin,
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/queues",
    params: { tenant: "nobody" },
    headers: admin,
  }, [404]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/queues/{queue}",
    params: { tenant: "demo", queue: "greetings" },
    headers: admin,
  }, [200]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/queues/{queue}",
    params: { tenant: "demo", queue: "nothing" },
    headers: admin,
  }, [404]);
  const deadQueries: Record<string, string>[] = [{ limit: "0" }, {
    cursor: "!!",
  }];
  for (const query of deadQueries) {
    await refused({
      op: "GET /api/v1/tenants/{tenant}/queues/{queue}/dead",
      params: { tenant: "demo", queue: "vault-q" },
      query,
      headers: admin,
    });
  }
  const deadOp = (method: string, suffix = "") => ({
    op: `${method} /api/v1/tenants/{tenant}/queues/{queue}/dead${suffix}`,
    params: { tenant: "demo", queue: "vault-q" },
  });
  await refused({
    ...deadOp("POST", "/replay"),
    headers: json,
    body: q({ ids: [] }),
  });
  await refused({
    ...deadOp("POST", "/replay"),
    headers: json,
    body: q({ all: true }),
  });
  await expect({
    ...deadOp("POST", "/replay"),
    headers: json,
    body: q({ ids: [dead[0].id, "0000000000000000000"] }),
  }, [200]);
  await expect({
    ...deadOp("POST", "/replay"),
    headers: json,
    body: q({ ids: ["x"], pad: "x".repeat(65 * 1024) }),
  }, [413]);
  await expect({ ...deadOp("POST", "/replay"), headers: admin }, [200]);
  await expect({
    ...deadOp("DELETE"),
    query: { id: ["0000000000000000000"] },
    headers: admin,
  }, [200]);
  await refused({ ...deadOp("DELETE"), query: { id: ["-x"] }, headers: admin });
  await expect({ ...deadOp("DELETE"), headers: json, body: q({}) }, [200]);
  await expect({ ...deadOp("DELETE"), headers: admin }, [200]);

  // What every operation does with no, a wrong or another tenant's token,
  // and with a bad name in each path segment.
  const valid: Record<string, string> = {
    tenant: "demo",
    id: "greet",
    event: "greet",
    queue: "greetings",
    name: "greet.wasm",
  };
  const bodies: Record<string, () => string | Uint8Array> = {
    "POST /api/v1/tenants": () => q({ id: "newcomer" }),
    "POST /api/v1/packages": () => packageYaml(VAULT),
    "POST /api/v1/tenants/{tenant}/packages/{id}/rollback": () =>
      q({ version: 1 }),
    "PUT /api/v1/tenants/{tenant}/files/{name}": () => trap,
    "PATCH /api/v1/tenants/{tenant}": () => q({ retention: { days: 1 } }),
    "POST /events/{tenant}/{event}": () => q({ data: [{ name: "Eve" }] }),
  };
  const bad = ["-x", "a b", "é", "x".repeat(129), "a:b", "%"];
  for (const op of operations(check.spec)) {
    if (op.endsWith("/stream")) continue; // A 200 stream never ends; below.
    const base: Call = { op, params: valid, body: bodies[op]?.() };
    const isPublic = PUBLIC_OPS.includes(op);
    for (
      const authorization of [
        undefined,
        "Bearer jbt_wrong",
        "Basic eDp5",
        "Bearer",
      ]
    ) {
      await expect({
        ...base,
        label: `${op} with authorization ${authorization}`,
        headers: authorization ? { authorization } : {},
      }, isPublic ? [200] : [401]);
    }
    if (op.includes("{tenant}")) {
      await expect({ ...base, headers: acmeAuth, label: `${op} as acme` }, [
        403,
      ]);
    }
    const names = [...op.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const name of names) {
      for (const value of bad) {
        await refused({
          ...base,
          params: { ...valid, [name]: value },
          headers: admin,
          label: `${op} with ${name} ${q(value)}`,
        });
      }
    }
  }
  await expect({
    op: "GET /api/v1/tenants/{tenant}/executions/stream",
    params: { tenant: "demo" },
    label: "the stream without a token",
  }, [401]);
  await expect({
    op: "GET /api/v1/tenants/{tenant}/executions/stream",
    params: { tenant: "demo" },
    headers: acmeAuth,
  }, [403]);

  // Deletions last.
  const deletePackage = {
    op: "DELETE /api/v1/tenants/{tenant}/packages/{id}",
    params: { tenant: "demo", id: "vault" },
    headers: admin,
  };
  await expect(deletePackage, [204]);
  await expect(deletePackage, [404]);
  const deleteTenant = {
    op: "DELETE /api/v1/tenants/{tenant}",
    params: { tenant: "acme" },
  };
  await expect({ ...deleteTenant, headers: acmeAuth }, [403]);
  await expect({ ...deleteTenant, headers: admin }, [204]);
  await expect({ ...deleteTenant, headers: admin }, [404]);

  // Every operation answered at least once with a success it lists.
  const missing = operations(check.spec).filter((op) =>
    ![...check.seen].some((s) => s.startsWith(`${op} 2`))
  );
  assert.deepEqual(missing, [], "operations never answered with a 2xx");
  console.log(
    `${check.seen.size} (operation, status) pairs seen, every one listed by the document`,
  );
}
