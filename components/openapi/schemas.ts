/**
 * The pieces the API description is made of: the JSON Schemas (2020-12, as
 * OpenAPI 3.1 takes them) of what the routes take and answer, the path,
 * query and header parameters, and the problem responses the routes share.
 * Each route file describes its routes with `describeRoute` from these;
 * `openapi_routes.ts` assembles them into the document.
 *
 * The schemas follow the types the routes answer with (`PackageHead`,
 * `FileInfo`, `Execution`, ...) and are closed (`additionalProperties:
 * false`) where those are, so tests/openapi_test.ts notices a member that
 * is added to an answer and not described here.
 */
import type { OpenAPIV3_1 } from "openapi-types";
import { SAFE_FILE_NAME, SAFE_ID } from "../model/keys.ts";

export type Schema = OpenAPIV3_1.SchemaObject | OpenAPIV3_1.ReferenceObject;
export type Parameter = OpenAPIV3_1.ParameterObject;
export type Response = OpenAPIV3_1.ResponseObject | OpenAPIV3_1.ReferenceObject;

const r = (schema: string): OpenAPIV3_1.ReferenceObject => ({
  $ref: `#/components/schemas/${schema}`,
});

const str = (description?: string): Schema => ({
  type: "string",
  ...(description && { description }),
});
const int = (description?: string, minimum?: number): Schema => ({
  type: "integer",
  ...(minimum !== undefined && { minimum }),
  ...(description && { description }),
});
const time = (description: string): Schema => ({
  type: "string",
  format: "date-time",
  description,
});
const obj = (
  properties: Record<string, Schema>,
  required: string[] = Object.keys(properties),
  description?: string,
): Schema => ({
  type: "object",
  ...(description && { description }),
  required,
  properties,
  additionalProperties: false,
});
const list = (items: Schema, description?: string): Schema => ({
  type: "array",
  items,
  ...(description && { description }),
});
const nullable = (s: Schema & { type: string }): Schema => ({
  ...s,
  type: [s.type, "null"],
} as Schema);

/** Tenant, package, event, queue and runtime ids, as every route checks them. */
export const NAME_PATTERN = SAFE_ID.source;
/** File names: the same characters, up to 128 of them. */
export const FILE_NAME_PATTERN = SAFE_FILE_NAME.source;
const name = (description: string): Schema => ({
  type: "string",
  pattern: NAME_PATTERN,
  description,
});
const SHA256: Schema = {
  type: "string",
  pattern: "^[0-9a-f]{64}$",
  description: "sha-256 of the content, lowercase hex",
};
/** Ids made by the platform: 19 characters of 0-9 and a-z, in time order. */
const ID19: Schema = { type: "string", pattern: "^[0-9a-z]{19}$" };

/** A deploy's warnings: result events that will not receive their items. */
const CHAIN_WARNINGS: Schema = {
  type: "array",
  description: "Present when a result event's schema can never accept " +
    "(some of) what its job sends it: such items would be dropped",
  items: {
    type: "object",
    required: ["event", "of", "result", "schema", "message"],
    properties: {
      event: { type: "string", description: "The result event" },
      of: { type: "string", description: "The job event it follows" },
      result: { type: "string", enum: ["ok", "error"] },
      schema: { type: "string", description: "Its schema file" },
      message: { type: "string" },
    },
    additionalProperties: false,
  },
};

const LIMITS_DEF = obj(
  {
    timeoutms: int("Wall-clock time of one execution, in ms", 1),
    memorymb: int(
      "Most memory the module may allocate (its memory and tables), in MiB",
      1,
    ),
    fuel: int("Instructions one execution may run", 1),
    outputkb: int(
      "Output (logs, stdout, stderr) kept per execution, in KiB",
      1,
    ),
  },
  [],
  "Limits of each execution; the platform's defaults for what is absent",
);

const EVENT_DEF: Schema = obj(
  {
    id: name("The event id: POST /events/{tenant}/{id}"),
    name: str(),
    auth: {
      type: "string",
      enum: ["token", "hmac", "public"],
      description: "How the listener accepts it; `token` when absent",
    },
    datatype: int("0: JSON"),
    schema: obj(
      {
        id: str(),
        name: str(),
        schemaref: str("An uploaded schema file of the tenant"),
      },
      ["id", "schemaref"],
    ),
    supplierqueue: str("A queue declared in `queues`"),
    runtime: str("A runtime declared in `runtimes`"),
    schedule: obj(
      {
        cron: str(
          "Five fields (minute hour day month weekday), six with seconds " +
            "first, or a nickname (`@hourly`)",
        ),
        timezone: str("An IANA time zone; UTC when absent"),
        payload: { description: "Sent as `payload` in every tick's item" },
      },
      ["cron"],
      "The platform sends the event on every tick: `{scheduledAt, payload?}` " +
        "(a deploy also takes a cron string)",
    ),
  },
  ["id", "schema", "supplierqueue", "runtime"],
);

const RETENTION_POLICY = obj(
  {
    days: int(
      "Executions older than this many days go; 0: kept whatever their age",
      0,
    ),
    executions: int(
      "Only the newest this many executions are kept; 0: no limit",
      0,
    ),
    versions: int(
      "Versions kept of each package besides those queued events pin",
      1,
    ),
  },
  undefined,
  "What is kept",
) as OpenAPIV3_1.SchemaObject & { properties: Record<string, Schema> };
const QUOTAS = obj(
  {
    files: int("Files the tenant may have", 0),
    bytes: int(
      "Bytes it may store: each distinct content of its files and kept versions, once",
      0,
    ),
  },
  undefined,
  "What may be stored",
) as OpenAPIV3_1.SchemaObject & { properties: Record<string, Schema> };
const nullableInts = (props: Record<string, Schema>) =>
  Object.fromEntries(
    Object.entries(props).map((
      [k, v],
    ) => [k, { ...v, type: ["integer", "null"] } as Schema]),
  );

/** The JSON Schemas of `components.schemas`. */
export const SCHEMAS = {
  Problem: {
    type: "object",
    description:
      "An error (RFC 9457 problem details). `detail` names what was wrong; " +
      "`issues` (package problems) or `errors` (schema errors of event " +
      "items) list several.",
    required: ["type", "title", "status", "detail"],
    properties: {
      type: str('Always "about:blank"'),
      title: str("The status in words"),
      status: { type: "integer", minimum: 400, maximum: 599 },
      detail: str("What was wrong, naming the value"),
      instance: str("The request path"),
      issues: list(
        obj({
          kind: {
            type: "string",
            enum: ["syntax", "structure", "reference"],
          },
          path: str("Where in the package, e.g. jobs[0].event.supplierqueue"),
          message: str(),
          line: int("1-based line in the source", 1),
          col: int("1-based column in the source", 1),
        }),
        "Every problem of a package (deploys)",
      ),
      errors: list(
        obj(
          {
            item: int('Index in "data"', 0),
            path: str("JSON Pointer into the item"),
            parameter: str("The query parameter that was wrong (delay, runAt)"),
            message: str(),
          },
          ["message"],
        ),
        "Every schema error of the event's items, or the query parameter " +
          "that was wrong",
      ),
    },
    additionalProperties: true,
  },
  Whoami: {
    oneOf: [
      obj({ principal: { const: "admin" } }),
      obj({ principal: { const: "tenant" }, tenant: name("The tenant") }),
    ],
  },
  NewTenant: obj({ id: name("A new tenant's id") }),
  TenantToken: obj({
    id: name("The tenant"),
    token: str("The tenant's API token: shown only in this answer"),
  }),
  Tenant: obj(
    {
      id: name("The tenant"),
      createdAt: time("When it was created"),
      hasToken: { type: "boolean" },
      tokenCreatedAt: time("When its current token was made"),
      retention: RETENTION_POLICY,
      quotas: QUOTAS,
      settings: obj(
        {
          retention: obj(RETENTION_POLICY.properties, []),
          quotas: obj(QUOTAS.properties, []),
        },
        [],
        "What the tenant sets itself; the rest follows the platform",
      ),
      usage: obj({
        files: int("Its files", 0),
        bytes: int(
          "The size of each distinct content its files and kept versions use",
          0,
        ),
        versions: int("Its package versions", 0),
        executions: int("Its execution records", 0),
      }),
    },
    ["id", "hasToken"],
  ),
  TenantSettings: obj(
    {
      retention: obj(nullableInts(RETENTION_POLICY.properties), []),
      quotas: obj(nullableInts(QUOTAS.properties), []),
    },
    [],
    "A number sets a member, null gives it back to the platform's default",
  ),
  Retention: obj({
    retention: RETENTION_POLICY,
    quotas: QUOTAS,
    sweeper: {
      type: "object",
      description: "The retention sweeper, whichever process runs it",
      additionalProperties: true,
      properties: {
        holder: {
          type: ["string", "null"],
          description: "The process that holds its lease now",
        },
        intervalMs: {
          type: ["integer", "null"],
          description: "How often this process sweeps; null: it does not",
        },
        last: {
          type: "object",
          description: "Its last pass that removed something",
          additionalProperties: true,
        },
        checked: {
          type: ["object", "null"],
          description: "This process's last pass",
          additionalProperties: true,
        },
        totals: obj({
          executions: int(undefined, 0),
          versions: int(undefined, 0),
          blobs: int(undefined, 0),
        }),
      },
    },
  }),
  TenantList: obj({ tenants: list(r("Tenant")) }),
  WebhookSecrets: obj(
    {
      secret: str("Sign with this one (`Jobico-Signature`)"),
      previous: obj({
        secret: str("The secret before the last rotation"),
        validUntil: time("When it stops being accepted"),
      }),
    },
    ["secret"],
  ),
  JobPackage: obj(
    {
      id: name("The package id"),
      name: str(),
      tenant: name("The tenant it belongs to"),
      queues: list(obj({ id: name("Queue id"), name: str() }, ["id"])),
      jobs: list(obj(
        {
          event: EVENT_DEF,
          result: obj({
            ok: EVENT_DEF,
            error: EVENT_DEF,
            item: {
              type: "string",
              enum: ["result", "envelope"],
              description:
                "What the result event receives: the result itself " +
                "(default) or the envelope {code, result, error, source}",
            },
          }, []),
        },
        ["event"],
      )),
      runtimes: list(obj(
        {
          id: name("Runtime id"),
          name: str(),
          moduleref: str("An uploaded module of the tenant"),
          mainfuncname: str('The exported main function; "event" when empty'),
          type: int("0: wasm"),
          limits: LIMITS_DEF,
          retries: int(
            "Retries of a failed execution before it is dead-lettered",
            0,
          ),
        },
        ["id", "moduleref"],
      )),
    },
    ["id", "tenant", "queues", "jobs", "runtimes"],
    "A job package (README: Job packages)",
  ),
  DeployResult: obj({
    tenant: name("The package's tenant"),
    id: name("The package id"),
    version: int("The version now current", 1),
    unchanged: {
      type: "boolean",
      const: true,
      description: "Present when nothing changed: the current version was kept",
    },
    warnings: CHAIN_WARNINGS,
  }, ["tenant", "id", "version"]),
  DeployPlan: obj({
    tenant: name("The package's tenant"),
    id: name("The package id"),
    currentVersion: {
      type: ["integer", "null"],
      description: "The current version; null for a new package",
    },
    changes: list(
      obj(
        {
          kind: {
            type: "string",
            enum: ["package", "event", "queue", "runtime", "file"],
          },
          op: { type: "string", enum: ["added", "removed", "changed"] },
          id: str("The event, queue or runtime id, file name or package id"),
          fields: list(
            obj({ field: str(), before: {}, after: {} }, ["field"]),
            "For `changed`: every field that differs",
          ),
        },
        ["kind", "op", "id"],
      ),
      "What would change against the current version",
    ),
    unchanged: {
      type: "boolean",
      description: "Whether a deploy would keep the current version: the " +
        "same source, pinning the same file contents",
    },
    warnings: CHAIN_WARNINGS,
  }, ["tenant", "id", "currentVersion", "changes", "unchanged"]),
  PackageHead: obj(
    {
      tenant: name("The package's tenant"),
      id: name("The package id"),
      name: str(),
      version: int("The current version", 1),
      deployedAt: time("When this version was made"),
      deployedBy: str('"admin" or "tenant:<id>"'),
    },
    ["tenant", "id", "version", "deployedAt"],
  ),
  PackageList: obj({ packages: list(r("PackageHead")) }),
  Package: obj(
    {
      tenant: name("The package's tenant"),
      id: name("The package id"),
      name: str(),
      version: int("The current version", 1),
      deployedAt: time("When this version was made"),
      deployedBy: str('"admin" or "tenant:<id>"'),
      package: r("JobPackage"),
      files: {
        type: "object",
        description: "File name to sha-256, pinned when the version was made",
        additionalProperties: SHA256,
      },
      rollbackOf: int("The version this one copies", 1),
      source: nullable({
        type: "string",
        description: "The package as deployed (YAML or JSON)",
      }),
    },
    ["tenant", "id", "version", "deployedAt", "package", "files", "source"],
  ),
  PackageVersions: obj({
    versions: list(obj(
      {
        tenant: name("The package's tenant"),
        id: name("The package id"),
        name: str(),
        version: int(undefined, 1),
        deployedAt: time("When it was made"),
        deployedBy: str('"admin" or "tenant:<id>"'),
        current: { type: "boolean" },
        rollbackOf: int("The version it copies", 1),
      },
      ["tenant", "id", "version", "deployedAt", "current"],
    )),
  }),
  Rollback: obj({
    version: int("The version whose content becomes current", 1),
  }),
  FileInfo: obj({
    tenant: name("The file's tenant"),
    name: { type: "string", pattern: FILE_NAME_PATTERN },
    kind: { type: "string", enum: ["wasm", "schema"] },
    size: int("Bytes", 1),
    sha256: SHA256,
    uploadedAt: time("When it was uploaded"),
  }),
  FileList: obj({ files: list(r("FileInfo")) }),
  Execution: obj({
    id: { ...ID19, description: "Newest first in lists" },
    eventId: { ...ID19, description: "The id the listener answered with" },
    tenant: name("The tenant"),
    package: name("The package"),
    version: int(
      "The version of the package that ran it (the one the event was " +
        "accepted under); absent on records older than this field",
      1,
    ),
    event: name("The event"),
    queue: name("The queue it came from"),
    status: {
      type: "string",
      enum: ["ok", "error", "failed"],
      description:
        "`ok`: code 0; `error`: a non-zero code; `failed`: a trap, timeout or host failure",
    },
    code: { type: ["integer", "null"] },
    result: { type: ["string", "null"] },
    error: { type: ["string", "null"] },
    logs: list(obj({
      level: {
        type: "string",
        enum: ["debug", "info", "warn", "error", "fatal", "panic", "none"],
      },
      message: str(),
      source: {
        type: "string",
        enum: ["module", "stdout", "stderr", "host"],
      },
    })),
    attempt: int("1 for the first run", 1),
    startedAt: time("When it started"),
    durationMs: { type: "number", minimum: 0 },
    chainedFrom: obj(
      {
        event: name("The job event whose outcome this is"),
        eventId: ID19,
        executionId: ID19,
        code: { type: ["integer", "null"] },
        error: str("Why it failed, when it did"),
      },
      ["event", "eventId", "executionId", "code"],
      "For a chained result event: the execution it comes from",
    ),
    input: {
      description:
        "The item it ran with (what a re-run sends again); absent when the " +
        "record could not hold it, and on records older than this field",
    },
    rerunOf: {
      ...ID19,
      description: "For a re-run: the execution whose input it ran with",
    },
  }, [
    "id",
    "eventId",
    "tenant",
    "package",
    "event",
    "queue",
    "status",
    "code",
    "result",
    "error",
    "logs",
    "attempt",
    "startedAt",
    "durationMs",
  ]),
  ExecutionPage: obj({
    executions: list(r("Execution"), "Newest first"),
    cursor: {
      type: ["string", "null"],
      description: "Pass as `cursor` for the next page; null on the last",
    },
  }),
  Queue: obj({
    id: name("The queue id"),
    depth: int("Events waiting, including those waiting for a retry", 0),
    inFlight: int("Events being run", 0),
    delayed: int("Of depth, the events waiting for a retry", 0),
    dead: int("Dead letters", 0),
    processed: int("Events done since the queue was made", 0),
    oldestAgeMs: int("Age of the oldest event waiting or running", 0),
  }),
  QueueList: obj({ queues: list(r("Queue")) }),
  DeadLetter: obj({
    id: name("What replay and purge take"),
    eventId: { ...ID19, description: "The id the listener answered with" },
    event: name("The event"),
    package: name("The package"),
    version: int("The package version it was accepted under", 1),
    attempt: int(undefined, 1),
    failures: int(undefined, 0),
    error: str("The last failure's reason"),
    failedAt: time("When it was dead-lettered"),
    executionId: {
      type: ["string", "null"],
      description: "The last execution's id",
    },
    data: { description: "The event item" },
  }),
  DeadLetterPage: obj({
    dead: list(r("DeadLetter"), "Oldest first"),
    cursor: {
      type: ["string", "null"],
      description: "Pass as `cursor` for the next page; null on the last",
    },
  }),
  DeadLetterIds: obj(
    {
      ids: {
        type: "array",
        minItems: 1,
        maxItems: 1000,
        items: { type: "string", pattern: NAME_PATTERN },
      },
    },
    [],
    "Which dead letters; no body or `{}` means every one",
  ),
  Replayed: obj({
    replayed: int("How many went back on the queue", 0),
    ids: list(str(), "Those that did"),
    notFound: list(str(), "Ids that were not dead letters"),
  }),
  Purged: obj({ purged: int("How many dead letters were removed", 0) }),
  EventBody: {
    type: "object",
    required: ["data"],
    properties: {
      data: {
        type: "array",
        minItems: 1,
        maxItems: 500,
        description:
          "The items; each must match the event's schema, and all are queued in one write",
        items: {},
      },
    },
  },
  Rerun: obj({
    accepted: int("1: the item was queued", 1),
    ids: list(ID19, "The new event id"),
    rerunOf: { ...ID19, description: "The execution whose input it sends" },
  }),
  Cancelled: obj({
    id: { ...ID19, description: "The event id that was cancelled" },
    event: name("Its event"),
    state: {
      type: "string",
      enum: ["waiting", "delayed"],
      description: "Where it was: waiting in its queue, or delayed",
    },
    runAt: time("When a delayed event would have run"),
  }, ["id", "event", "state"]),
  DelayedPage: obj({
    delayed: list(obj({
      id: { ...ID19, description: "The event id" },
      event: name("Its event"),
      runAt: time("When it runs"),
    })),
    cursor: {
      type: ["string", "null"],
      description: "Pass as `cursor` for the next page; null on the last",
    },
  }),
  Accepted: obj({
    accepted: int("How many items were queued", 1),
    ids: list(ID19, "One event id per item, in order"),
    runAt: time("When the items run, when `delay` or `runAt` put them off"),
  }, ["accepted", "ids"]),
} satisfies Record<string, Schema>;

/** A reference to a schema of `SCHEMAS`. */
export function ref(schema: keyof typeof SCHEMAS): OpenAPIV3_1.ReferenceObject {
  return r(schema);
}

/** A response whose body is JSON of `schema`. */
export function json(description: string, schema: Schema): Response {
  return { description, content: { "application/json": { schema } } };
}

/** The problem responses of `components.responses`, by status. */
export const PROBLEM_RESPONSES = {
  400: ["BadRequest", "Invalid request: the detail names the value"],
  401: ["Unauthorized", "No, a malformed or an unknown bearer token"],
  403: [
    "Forbidden",
    "The token may not do this: another tenant's token, or a tenant's on an admin route",
  ],
  404: ["NotFound", "The tenant or the thing named in the path does not exist"],
  409: ["Conflict", "The change conflicts with the current state"],
  413: ["PayloadTooLarge", "The body is larger than the route takes"],
  422: ["Unprocessable", "The package names things that do not resolve"],
  429: ["TooManyRequests", "The queue is full: try again later"],
} as const;

export type ProblemStatus = keyof typeof PROBLEM_RESPONSES;

/**
 * Problem responses by status, each with the shared description or the one
 * given (`[404, "The tenant has no such package"]`).
 */
export function problems(
  ...statuses: (ProblemStatus | [ProblemStatus, string])[]
): Record<string, Response> {
  const out: Record<string, Response> = {};
  for (const s of statuses) {
    const [status, description] = Array.isArray(s) ? s : [s, undefined];
    out[status] = {
      $ref: `#/components/responses/${PROBLEM_RESPONSES[status][0]}`,
      ...(description && { description }),
    };
  }
  return out;
}

/** The responses of `components.responses`. */
export function problemComponents(): Record<
  string,
  OpenAPIV3_1.ResponseObject
> {
  const out: Record<string, OpenAPIV3_1.ResponseObject> = {};
  for (
    const [status, [key, description]] of Object.entries(PROBLEM_RESPONSES)
  ) {
    out[key] = {
      description,
      content: { "application/problem+json": { schema: ref("Problem") } },
      ...(status === "429" && {
        headers: {
          "Retry-After": {
            description: "Whole seconds to wait before trying again",
            schema: { type: "integer", minimum: 0 },
          },
        },
      }),
    };
  }
  return out;
}

const pathParam = (
  paramName: string,
  description: string,
  pattern = NAME_PATTERN,
): Parameter => ({
  name: paramName,
  in: "path",
  required: true,
  description,
  schema: { type: "string", pattern },
});

/** Path parameters, by the name the routes give them. */
export const PATH = {
  tenant: pathParam("tenant", "The tenant"),
  id: pathParam("id", "The package id"),
  event: pathParam("event", "The event id, as its package declares it"),
  queue: pathParam("queue", "The queue id, as a package declares it"),
  name: pathParam("name", "The file name", FILE_NAME_PATTERN),
};

/** `limit` of a paged list. */
export const LIMIT: Parameter = {
  name: "limit",
  in: "query",
  description: "Page size",
  schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
};

/** The filters of the executions list and stream. */
export const EXECUTION_FILTERS: Parameter[] = [
  {
    name: "event",
    in: "query",
    description: "Only this event's executions",
    schema: { type: "string", pattern: NAME_PATTERN },
  },
  {
    name: "package",
    in: "query",
    description: "Only this package's executions",
    schema: { type: "string", pattern: NAME_PATTERN },
  },
  {
    name: "status",
    in: "query",
    description: "Only executions with this status",
    schema: { type: "string", enum: ["ok", "error", "failed"] },
  },
];

/** Security requirements: a bearer token (the default), or nothing. */
export const BEARER = [{ bearerAuth: [] }];
export const PUBLIC: OpenAPIV3_1.SecurityRequirementObject[] = [];

/** `name:kind:sha256`: a file a dry run treats as uploaded. */
export const PENDING_FILE_PATTERN = `^${
  FILE_NAME_PATTERN.slice(1, -1)
}:(wasm|schema):[0-9a-f]{64}$`;
