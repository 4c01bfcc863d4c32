/**
 * Job packages: the package itself (the JSON form of a deploy's body),
 * deploys and their plans, versions and rollbacks.
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { closed, int, nullable, oneOf, recordOf, ref, time } from "./_kit.ts";
import { FileKind } from "./file_schemas.ts";
import { FILE_NAME_PATTERN, Name, Sha256 } from "./names.ts";

const str = (description?: string) =>
  Type.String(description ? { description } : {});

/** A runtime's limits, as a package declares them. */
export const RuntimeLimits = closed({
  timeoutms: Type.Optional(int("Wall-clock time of one execution, in ms", 1)),
  memorymb: Type.Optional(int(
    "Most memory the module may allocate (its memory and tables), in MiB",
    1,
  )),
  fuel: Type.Optional(int("Instructions one execution may run", 1)),
  outputkb: Type.Optional(int(
    "Output (logs, stdout, stderr) kept per execution, in KiB",
    1,
  )),
}, "Limits of each execution; the platform's defaults for what is absent");

/** An event a package declares. */
export const EventDef = closed({
  id: Name("The event id: POST /events/{tenant}/{id}"),
  name: Type.Optional(str()),
  auth: Type.Optional(
    oneOf(
      ["token", "hmac", "public"] as const,
      "How the listener accepts it; `token` when absent",
    ),
  ),
  datatype: Type.Optional(int("0: JSON")),
  schema: closed({
    id: str(),
    name: Type.Optional(str()),
    schemaref: str("An uploaded schema file of the tenant"),
  }),
  supplierqueue: str("A queue declared in `queues`"),
  runtime: str("A runtime declared in `runtimes`"),
  schedule: Type.Optional(closed(
    {
      cron: str(
        "Five fields (minute hour day month weekday), six with seconds " +
          "first, or a nickname (`@hourly`)",
      ),
      timezone: Type.Optional(str("An IANA time zone; UTC when absent")),
      payload: Type.Optional(
        Type.Unknown({ description: "Sent as `payload` in every tick's item" }),
      ),
    },
    "The platform sends the event on every tick: `{scheduledAt, payload?}` (a deploy also takes a cron string)",
  )),
  rateLimit: Type.Optional(closed(
    {
      limit: int("Items per period and key", 1),
      period: str("A duration: `30s`, `1m`, `1h`, `1d`"),
      key: Type.Optional(
        str("A key path into each item (`$.customerId`); one key when absent"),
      ),
      mode: Type.Optional(oneOf(
        ["throttle", "reject"] as const,
        "`throttle` (default): items over the limit wait for a later window; `reject`: a 429",
      )),
    },
    "At most `limit` items per `period` and key, in fixed windows (README: Rate limits)",
  )),
  debounce: Type.Optional(closed(
    {
      period: str(
        "A duration: the item runs once none of its key came for this long",
      ),
      key: Type.Optional(
        str("A key path into each item (`$.id`); one key when absent"),
      ),
      keep: Type.Optional(oneOf(
        ["last", "first"] as const,
        "Which item of a burst runs: `last` (default) or `first`",
      )),
    },
    "Items of one key within `period` of each other run once (README: Debounce)",
  )),
  concurrency: Type.Optional(closed(
    {
      key: Type.Optional(str(
        "A path into the item, e.g. `$.customerId`: the limit holds per value (items where it finds nothing share one key)",
      )),
      limit: Type.Integer({
        description: "Executions at once (per key value)",
        minimum: 1,
        maximum: 10_000,
      }),
    },
    "At most `limit` executions of the event at once, across processes (a deploy also takes a whole number: the limit)",
  )),
  priority: Type.Optional(oneOf(
    ["high", "normal", "low"] as const,
    "Its items are leased before older ones of a lower priority in their queue, which rise a level per aging period waited (README: Priority); `normal` when absent, `?priority=` on a request overrides it",
  )),
});

/** A job package (README: Job packages). */
export const JobPackage = closed({
  id: Name("The package id"),
  name: Type.Optional(str()),
  tenant: Name("The tenant it belongs to"),
  queues: Type.Array(
    closed({ id: Name("Queue id"), name: Type.Optional(str()) }),
  ),
  jobs: Type.Array(closed({
    event: EventDef,
    result: Type.Optional(closed({
      ok: Type.Optional(EventDef),
      error: Type.Optional(EventDef),
      item: Type.Optional(oneOf(
        ["result", "envelope"] as const,
        "What the result event receives: the result itself " +
          "(default) or the envelope {code, result, error, source}",
      )),
    })),
  })),
  runtimes: Type.Array(closed({
    id: Name("Runtime id"),
    name: Type.Optional(str()),
    moduleref: str("An uploaded module of the tenant"),
    mainfuncname: Type.Optional(
      str('The exported main function; "event" when empty'),
    ),
    type: Type.Optional(int("0: wasm")),
    limits: Type.Optional(RuntimeLimits),
    retries: Type.Optional(int(
      "Retries of a failed execution before it is dead-lettered",
      0,
    )),
    concurrency: Type.Optional(Type.Integer({
      description: "Executions of the runtime at once, across processes",
      minimum: 1,
      maximum: 10_000,
    })),
  })),
}, "A job package (README: Job packages)");
export type JobPackage = Static<typeof JobPackage>;

/** A result event that will not receive (some of) its items. */
export const ChainWarning = closed({
  event: str("The result event"),
  of: str("The job event it follows"),
  result: oneOf(["ok", "error"] as const),
  schema: str("Its schema file"),
  message: str(),
});
export type ChainWarning = Static<typeof ChainWarning>;

/** A deploy's warnings: result events that will not receive their items. */
const ChainWarnings = Type.Array(ChainWarning, {
  description: "Present when a result event's schema can never accept " +
    "(some of) what its job sends it: such items would be dropped",
});

/** `POST /api/v1/packages`: `unchanged` when the current version was kept. */
export const DeployResult = closed({
  tenant: Name("The package's tenant"),
  id: Name("The package id"),
  version: int("The version now current", 1),
  unchanged: Type.Optional(Type.Literal(true, {
    description: "Present when nothing changed: the current version was kept",
  })),
  warnings: Type.Optional(ChainWarnings),
});
export type DeployResult = Static<typeof DeployResult>;

/** One field that differs; absent `before`/`after`: not declared. */
export const FieldChange = closed({
  field: str(),
  before: Type.Optional(Type.Unknown()),
  after: Type.Optional(Type.Unknown()),
});
export type FieldChange = Static<typeof FieldChange>;

/** One difference between two versions of a package. */
export const PackageChange = closed({
  kind: oneOf(["package", "event", "queue", "runtime", "file"] as const),
  op: oneOf(["added", "removed", "changed"] as const),
  id: str("The event, queue or runtime id, file name or package id"),
  fields: Type.Optional(Type.Array(FieldChange, {
    description: "For `changed`: every field that differs",
  })),
});
export type PackageChange = Static<typeof PackageChange>;

/** `POST /api/v1/packages?dryRun=true`: what a deploy would change. */
export const DeployPlan = closed({
  tenant: Name("The package's tenant"),
  id: Name("The package id"),
  currentVersion: nullable(
    Type.Integer(),
    "The current version; null for a new package",
  ),
  changes: Type.Array(PackageChange, {
    description: "What would change against the current version",
  }),
  unchanged: Type.Boolean({
    description: "Whether a deploy would keep the current version: the " +
      "same source, pinning the same file contents",
  }),
  warnings: Type.Optional(ChainWarnings),
});
export type DeployPlan = Static<typeof DeployPlan>;

const HEAD = {
  tenant: Name("The package's tenant"),
  id: Name("The package id"),
  name: Type.Optional(str()),
  version: int("The current version", 1),
  deployedAt: time("When this version was made"),
  deployedBy: Type.Optional(str('"admin" or "tenant:<id>"')),
};

/** The current version of a package, as lists show it. */
export const PackageHead = closed(HEAD);
export type PackageHead = Static<typeof PackageHead>;

/** `GET /api/v1/tenants/{t}/packages`. */
export const PackageList = closed({
  packages: Type.Array(ref("PackageHead", PackageHead)),
});
export type PackageList = Static<typeof PackageList>;

/** `GET /api/v1/tenants/{t}/packages/{id}`: the current version in full. */
export const Package = closed({
  ...HEAD,
  package: ref("JobPackage", JobPackage),
  files: recordOf(
    Sha256(),
    "File name to sha-256, pinned when the version was made",
  ),
  rollbackOf: Type.Optional(int("The version this one copies", 1)),
  source: nullable(
    Type.String(),
    "The package as deployed (YAML or JSON)",
  ),
});
export type Package = Static<typeof Package>;

/** One version in `GET .../packages/{id}/versions`. */
export const PackageVersionInfo = closed({
  tenant: Name("The package's tenant"),
  id: Name("The package id"),
  name: Type.Optional(str()),
  version: int(undefined, 1),
  deployedAt: time("When it was made"),
  deployedBy: Type.Optional(str('"admin" or "tenant:<id>"')),
  current: Type.Boolean(),
  rollbackOf: Type.Optional(int("The version it copies", 1)),
});
export type PackageVersionInfo = Static<typeof PackageVersionInfo>;

/** `GET .../packages/{id}/versions`. */
export const PackageVersions = closed({
  versions: Type.Array(PackageVersionInfo),
});
export type PackageVersions = Static<typeof PackageVersions>;

/** `POST .../packages/{id}/rollback` (other members are ignored). */
export const Rollback = Type.Object({
  version: Type.Integer({
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description: "The version whose content becomes current",
  }),
});
export type Rollback = Static<typeof Rollback>;

/** A file a dry run treats as uploaded (`file=name:kind:sha256`). */
export const PendingFile = closed({
  name: Type.String({ pattern: FILE_NAME_PATTERN }),
  kind: FileKind,
  sha256: Sha256(),
});
export type PendingFile = Static<typeof PendingFile>;
