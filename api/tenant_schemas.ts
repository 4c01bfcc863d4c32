/**
 * Tenants: their retention and quotas, settings, tokens and webhook
 * secrets, the platform's retention status, and `whoami`.
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import {
  closed,
  int,
  nullable,
  nullablesOf,
  partialOf,
  ref,
  time,
} from "./_kit.ts";
import { POLICY_RANGES } from "./limits.ts";
import { Name } from "./names.ts";

/** A setting within its range (`POLICY_RANGES`). */
const setting = (range: readonly [number, number], description: string) =>
  Type.Integer({ minimum: range[0], maximum: range[1], description });

/** What is kept of a tenant. */
export const RetentionPolicy = closed({
  days: setting(
    POLICY_RANGES.retention.days,
    "Executions older than this many days go; 0: kept whatever their age",
  ),
  executions: setting(
    POLICY_RANGES.retention.executions,
    "Only the newest this many executions are kept; 0: no limit",
  ),
  versions: setting(
    POLICY_RANGES.retention.versions,
    "Versions kept of each package besides those queued events pin",
  ),
}, "What is kept");
export type RetentionPolicy = Static<typeof RetentionPolicy>;

/** What a tenant may store. */
export const Quotas = closed({
  files: setting(POLICY_RANGES.quotas.files, "Files the tenant may have"),
  bytes: setting(
    POLICY_RANGES.quotas.bytes,
    "Bytes it may store: each distinct content of its files and kept versions, once",
  ),
  maxConcurrency: setting(
    POLICY_RANGES.quotas.maxConcurrency,
    "Executions of the tenant at once, across every process of the store; 0: no limit",
  ),
}, "What may be stored and run");
export type Quotas = Static<typeof Quotas>;

/** What a tenant stores and keeps. */
export const TenantUsage = closed({
  files: int("Its files", 0),
  bytes: int(
    "The size of each distinct content its files and kept versions use",
    0,
  ),
  versions: int("Its package versions", 0),
  executions: int("Its execution records", 0),
});
export type TenantUsage = Static<typeof TenantUsage>;

/** A tenant as the API shows it (never its token). */
export const Tenant = Type.Object({
  id: Name("The tenant"),
  createdAt: Type.Optional(
    time(
      "When it was created: by `POST /api/v1/tenants`, or by the first upload or deploy for it",
    ),
  ),
  hasToken: Type.Boolean(),
  tokenCreatedAt: Type.Optional(time("When its current token was made")),
  retention: Type.Optional(RetentionPolicy),
  quotas: Type.Optional(Quotas),
  settings: Type.Optional(closed({
    retention: Type.Optional(partialOf(RetentionPolicy)),
    quotas: Type.Optional(partialOf(Quotas)),
  }, "What the tenant sets itself; the rest follows the platform")),
  usage: Type.Optional(TenantUsage),
}, { additionalProperties: false });
export type Tenant = Static<typeof Tenant>;

/** `PATCH /api/v1/tenants/{tenant}`: null gives a member back to the default. */
export const TenantSettings = closed({
  retention: Type.Optional(nullablesOf(RetentionPolicy)),
  quotas: Type.Optional(nullablesOf(Quotas)),
}, "A number sets a member, null gives it back to the platform's default");
export type TenantSettings = Static<typeof TenantSettings>;

/** `POST /api/v1/tenants` (other members are ignored). */
export const NewTenant = Type.Object({ id: Name("A new tenant's id") });
export type NewTenant = Static<typeof NewTenant>;

/** A tenant's new token, shown once. */
export const TenantToken = closed({
  id: Name("The tenant"),
  token: Type.String({
    description: "The tenant's API token: shown only in this answer",
  }),
});
export type TenantToken = Static<typeof TenantToken>;

/** `GET /api/v1/tenants`. */
export const TenantList = closed({
  tenants: Type.Array(ref("Tenant", Tenant)),
});
export type TenantList = Static<typeof TenantList>;

/** A tenant's webhook signing secret, and the previous one during its grace period. */
export const WebhookSecrets = closed({
  secret: Type.String({
    description: "Sign with this one (`Jobico-Signature`)",
  }),
  previous: Type.Optional(closed({
    secret: Type.String({ description: "The secret before the last rotation" }),
    validUntil: time("When it stops being accepted"),
  })),
});
export type WebhookSecrets = Static<typeof WebhookSecrets>;

/** `GET /api/v1/whoami`: who the token belongs to. */
export const Whoami = Type.Union([
  closed({ principal: Type.Literal("admin") }),
  closed({ principal: Type.Literal("tenant"), tenant: Name("The tenant") }),
]);
export type Whoami = Static<typeof Whoami>;

/** One pass of the retention sweeper. */
export const SweepReport = Type.Object({
  at: time("When it began"),
  holder: Type.String({ description: "The process that ran it" }),
  ms: int("How long it took", 0),
  tenants: int(undefined, 0),
  executions: int(undefined, 0),
  versions: int(undefined, 0),
  pinned: int(
    "Versions kept beyond the retention because queued events pin them",
    0,
  ),
  blobs: int(undefined, 0),
  complete: Type.Boolean({
    description: "False when it stopped at its bound: the next pass goes on",
  }),
}, { additionalProperties: true });
export type SweepReport = Static<typeof SweepReport>;

/** `GET /api/v1/retention`: the platform's defaults and its sweeper. */
export const Retention = closed({
  retention: RetentionPolicy,
  quotas: Quotas,
  sweeper: Type.Object({
    holder: nullable(Type.String(), "The process that holds its lease now"),
    intervalMs: nullable(
      Type.Integer(),
      "How often this process sweeps; null: it does not",
    ),
    last: Type.Optional(
      Type.Object(SweepReport.properties, {
        additionalProperties: true,
        description: "Its last pass that removed something",
      }),
    ),
    checked: nullable(
      Type.Object(SweepReport.properties, { additionalProperties: true }),
      "This process's last pass",
    ),
    totals: closed({
      executions: int(undefined, 0),
      versions: int(undefined, 0),
      blobs: int(undefined, 0),
    }),
  }, {
    description: "The retention sweeper, whichever process runs it",
    additionalProperties: true,
  }),
});
export type Retention = Static<typeof Retention>;
