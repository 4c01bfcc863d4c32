/** The control plane's package API under /api/v1. */
import { type Context, Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { DomainError, ValidationError } from "@jobico/goico";
import { API_LIMITS, kib, Rollback } from "../../api/mod.ts";
import { ApiCheck } from "../http/api_check.ts";
import { checkName } from "../http/check_name.ts";
import {
  BEARER,
  json,
  PATH,
  PENDING_FILE_PATTERN,
  problems,
  ref,
} from "../openapi/schemas.ts";
import { SAFE_FILE_NAME } from "../model/keys.ts";
import {
  assertTenantAccess,
  type AuthVariables,
  type Principal,
  principalName,
} from "../http/principal.ts";
import { readBody } from "../http/read_body.ts";
import type { PackageStore, PendingFile } from "../packages/package_store.ts";
import type { PlatformMetrics } from "../observe/platform_metrics.ts";
import { inSpan } from "../observe/tracing.ts";

type Env = { Variables: AuthVariables };

export function ctlApp(
  store: PackageStore,
  options: {
    maxSourceBytes?: number;
    /** Counts deploys and rollbacks. Default: not counted. */
    metrics?: PlatformMetrics;
  } = {},
): Hono<Env> {
  const max = options.maxSourceBytes ?? API_LIMITS.packageSourceBytes;
  const app = new Hono<Env>();
  const rollbackBody = new ApiCheck(Rollback);

  /**
   * Deploys a package; with `?dryRun=true` validates it the same way and
   * answers what would change, storing nothing. A dry run may name files
   * about to be uploaded (`file=name:kind:sha256`, repeated).
   */
  app.post("/api/v1/packages", DOCS.deploy, async (c) => {
    const dryRun = flag(c.req.query("dryRun"), "dryRun");
    const pending = c.req.queries("file") ?? [];
    if (pending.length && !dryRun) {
      throw new ValidationError(
        'The "file" parameter is only for a dry run (dryRun=true): upload files before deploying',
      );
    }
    const source = await readBody(c.req.raw, max, "Package source");
    if (source.trim() === "") {
      throw new ValidationError(
        "The package body is empty: send the job package as YAML or JSON",
      );
    }
    const p = principalOf(c);
    const authorize = (tenant: string) => assertTenantAccess(p, tenant);
    if (dryRun) {
      const { warnings, ...plan } = await store.plan(source, {
        authorize,
        pending: pending.map(pendingFile),
      });
      return c.json({ ...plan, ...(warnings.length && { warnings }) });
    }
    const force = flag(c.req.query("force"), "force");
    const head = await inSpan("jobico.deploy", {
      "jobico.principal": principalName(p),
    }, async (span) => {
      const head = await store.deploy(source, {
        authorize,
        by: principalName(p),
        force,
      });
      span.setAttributes({
        "jobico.tenant": head.tenant,
        "jobico.package": head.id,
        "jobico.version": head.version,
        "jobico.unchanged": head.unchanged === true,
      });
      return head;
    });
    const warnings = head.warnings.length ? { warnings: head.warnings } : {};
    if (head.unchanged) {
      // Nothing was made: the current version stays, as it was.
      return c.json({
        tenant: head.tenant,
        id: head.id,
        version: head.version,
        unchanged: true,
        ...warnings,
      });
    }
    options.metrics?.deployed(head.tenant);
    return c.json(
      { tenant: head.tenant, id: head.id, version: head.version, ...warnings },
      201,
    );
  });

  app.get("/api/v1/tenants/:tenant/packages", DOCS.list, async (c) => {
    return c.json({ packages: await store.list(c.req.param("tenant")) });
  });

  app.get("/api/v1/tenants/:tenant/packages/:id", DOCS.show, async (c) => {
    const { tenant, id } = c.req.param();
    const v = await store.current(tenant, id);
    const source = await store.source(tenant, id, v.version);
    return c.json({ ...v, source });
  });

  app.get(
    "/api/v1/tenants/:tenant/packages/:id/versions",
    DOCS.versions,
    async (c) => {
      const { tenant, id } = c.req.param();
      return c.json({ versions: await store.versions(tenant, id) });
    },
  );

  app.post(
    "/api/v1/tenants/:tenant/packages/:id/rollback",
    DOCS.rollback,
    async (c) => {
      const { tenant, id } = c.req.param();
      checkName("tenant", tenant);
      checkName("package id", id);
      let body: unknown;
      try {
        body = JSON.parse(
          await readBody(c.req.raw, API_LIMITS.smallBodyBytes, "Rollback body"),
        );
      } catch (err) {
        // A ValidationError (not UTF-8) or a TooLargeError (413) as is.
        if (err instanceof DomainError) throw err;
        throw new ValidationError(
          'Rollback body must be JSON like {"version": 2}',
          {},
          { cause: err },
        );
      }
      if (!rollbackBody.test(body)) {
        throw new ValidationError(
          `Invalid version "${
            String((body as { version?: unknown } | null)?.version)
          }": use a whole number of 1 or more`,
        );
      }
      const { version } = body;
      const p = principalOf(c);
      assertTenantAccess(p, tenant);
      const head = await inSpan("jobico.deploy", {
        "jobico.principal": principalName(p),
        "jobico.tenant": tenant,
        "jobico.package": id,
        "jobico.rollback_to": version,
      }, async (span) => {
        const head = await store.rollback(tenant, id, version, {
          by: principalName(p),
        });
        span.setAttribute("jobico.version", head.version);
        return head;
      });
      options.metrics?.deployed(head.tenant);
      return c.json({
        tenant: head.tenant,
        id: head.id,
        version: head.version,
      });
    },
  );

  app.delete("/api/v1/tenants/:tenant/packages/:id", DOCS.remove, async (c) => {
    const { tenant, id } = c.req.param();
    await store.delete(tenant, id);
    return c.body(null, 204);
  });
  return app;
}

/**
 * Who is calling. The auth middleware sets it; a request that reached here
 * without one (no middleware mounted, an open platform) acts as the admin.
 */
function principalOf(c: Context<Env>): Principal {
  return c.get("principal") ?? { kind: "admin" };
}

/** A boolean query parameter: absent, true/1 or false/0. */
function flag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "" || value === "true" || value === "1") return true;
  throw new ValidationError(`Invalid ${name} "${value}": use true or false`);
}

/** `name:kind:sha256`, a file a dry run treats as uploaded. */
function pendingFile(spec: string): PendingFile {
  const m = /^(.+):(wasm|schema):([0-9a-f]{64})$/.exec(spec);
  if (!m) {
    throw new ValidationError(
      `Invalid file "${spec}": use name:kind:sha256, kind wasm or schema, sha256 in lowercase hex`,
    );
  }
  checkName("file name", m[1], SAFE_FILE_NAME);
  return { name: m[1], kind: m[2] as PendingFile["kind"], sha256: m[3] };
}

/** The API description of each route (components/openapi). */
const DOCS = {
  deploy: describeRoute({
    operationId: "deployPackage",
    tags: ["packages"],
    summary: "Deploy a job package",
    description:
      "Validates the package (every reference must resolve: queues, " +
      "runtimes, uploaded files) and makes it the new current version of " +
      "its id. A package with the same source, pinning the same file " +
      "contents, as the current version keeps it: 200 with `unchanged` " +
      "(`force=true` makes a new version anyway). With `dryRun=true` it is " +
      "validated the same way and the answer says what would change; " +
      "nothing is stored. The body is the " +
      `package as YAML or JSON (any content type), at most ${
        kib(API_LIMITS.packageSourceBytes)
      }. It must ` +
      "name the caller's tenant, unless the caller is the admin.",
    security: BEARER,
    parameters: [
      {
        name: "dryRun",
        in: "query",
        description: "Validate only and answer what would change",
        schema: { type: "string", enum: ["", "true", "false", "1", "0"] },
      },
      {
        name: "force",
        in: "query",
        description:
          "Make a new version even when nothing changed (a deploy of the " +
          "current source and files otherwise keeps the current version)",
        schema: { type: "string", enum: ["", "true", "false", "1", "0"] },
      },
      {
        name: "file",
        in: "query",
        description: "Dry runs only: a file about to be uploaded, as " +
          "`name:kind:sha256` (kind wasm or schema), resolved as if it were",
        style: "form",
        explode: true,
        schema: {
          type: "array",
          items: { type: "string", pattern: PENDING_FILE_PATTERN },
        },
      },
    ],
    requestBody: {
      required: true,
      content: {
        "application/yaml": { schema: { type: "string" } },
        "application/json": { schema: ref("JobPackage") },
      },
    },
    responses: {
      200: json(
        "A dry run: what would change; or a deploy that changed nothing: " +
          "the current version, kept (`unchanged: true`)",
        { oneOf: [ref("DeployPlan"), ref("DeployResult")] },
      ),
      201: json("Deployed: the new current version", ref("DeployResult")),
      ...problems(
        [
          400,
          "A malformed or broken package (`issues` lists every problem " +
          "with its line and column), an empty body or a bad query",
        ],
        401,
        [403, "The package names another tenant than the token's"],
        [409, "An event is declared by another package of the tenant"],
        413,
        [422, "Only references fail to resolve (`issues` lists them)"],
      ),
    },
  }),
  list: describeRoute({
    operationId: "listPackages",
    tags: ["packages"],
    summary: "List a tenant's packages",
    parameters: [PATH.tenant],
    responses: {
      200: json("The current version of each package", ref("PackageList")),
      ...problems(400, 401, 403, [404, "No such tenant"]),
    },
  }),
  show: describeRoute({
    operationId: "getPackage",
    tags: ["packages"],
    summary: "Show a package's current version",
    description:
      "The model, the files pinned by content hash and the source as deployed.",
    parameters: [PATH.tenant, PATH.id],
    responses: {
      200: json("The current version", ref("Package")),
      ...problems(400, 401, 403, [404, "No such tenant or package"]),
    },
  }),
  versions: describeRoute({
    operationId: "listPackageVersions",
    tags: ["packages"],
    summary: "List a package's versions",
    parameters: [PATH.tenant, PATH.id],
    responses: {
      200: json("Every version, oldest first", ref("PackageVersions")),
      ...problems(400, 401, 403, [404, "No such tenant or package"]),
    },
  }),
  rollback: describeRoute({
    operationId: "rollbackPackage",
    tags: ["packages"],
    summary: "Make an earlier version's content current",
    description:
      "The content of `version` becomes current as a new version (its " +
      "`rollbackOf` names the one it copies). The body is at most " +
      `${kib(API_LIMITS.smallBodyBytes)}.`,
    parameters: [PATH.tenant, PATH.id],
    requestBody: {
      required: true,
      content: { "application/json": { schema: ref("Rollback") } },
    },
    responses: {
      200: json("The new current version", ref("DeployResult")),
      ...problems(
        [400, 'A bad name, or a body that is not {"version": n}'],
        401,
        403,
        [404, "No such tenant, package or version"],
        [
          409,
          "The package is changed concurrently, or an event of it is now another package's",
        ],
        413,
      ),
    },
  }),
  remove: describeRoute({
    operationId: "deletePackage",
    tags: ["packages"],
    summary: "Delete a package and its versions",
    description:
      "Its events stop being accepted. Version numbers are never reused.",
    parameters: [PATH.tenant, PATH.id],
    responses: {
      204: { description: "Deleted" },
      ...problems(400, 401, 403, [404, "No such tenant or package"]),
    },
  }),
};
