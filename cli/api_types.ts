/**
 * The shapes of the Jobico HTTP API (v1) as the CLI sees them.
 */

import type { ChainWarning } from "../components/packages/chain_warnings.ts";
import type { FileKind } from "../components/model/job_package.ts";
import type { DeployPlan as StoreDeployPlan } from "../components/packages/package_store.ts";
import type { DeadLetterView } from "../components/ctl/queue_routes.ts";
import type { Execution } from "../components/executions/execution.ts";

// The record types are the server's own, so the two cannot drift apart.
export type { FileKind } from "../components/model/job_package.ts";
export type {
  Execution,
  ExecutionLog,
  LogLevelName as LogLevel,
} from "../components/executions/execution.ts";
export type {
  DeadLetterView as DeadLetter,
  QueueView as QueueInfo,
} from "../components/ctl/queue_routes.ts";

/** `POST /api/v1/packages`, `POST .../rollback`. */
export interface PackageRef {
  tenant: string;
  id: string;
  version: number;
}

/** `POST /api/v1/packages`: `unchanged` when the current version was kept. */
export interface DeployResult extends PackageRef {
  unchanged?: true;
  warnings?: ChainWarning[];
}

/** One package in `GET /api/v1/tenants/{t}/packages`. */
export interface PackageSummary extends PackageRef {
  name?: string;
  deployedAt: string;
}

/** `GET /api/v1/tenants/{t}/packages/{id}`. */
export interface PackageDetail extends PackageSummary {
  package: Record<string, unknown>;
  /** The YAML (or JSON) text as it was deployed. */
  source: string;
}

/** One version in `GET .../packages/{id}/versions`. */
export interface PackageVersion {
  version: number;
  deployedAt: string;
  /** "admin" or "tenant:<id>"; absent on versions stored before it was recorded. */
  deployedBy?: string;
  current: boolean;
  /** The version this one copies, for rollbacks. */
  rollbackOf?: number;
}

/** A result event that will not receive (some of) its items. */
export type { ChainWarning } from "../components/packages/chain_warnings.ts";

/** `POST /api/v1/packages?dryRun=true`: what a deploy would change. */
export type DeployPlan =
  & Omit<StoreDeployPlan, "warnings">
  & { warnings?: ChainWarning[] };
export type { PendingFile } from "../components/packages/package_store.ts";
export type {
  FieldChange,
  PackageChange,
} from "../components/model/package_diff.ts";

/** `GET /api/v1/whoami`: who the token belongs to. */
export type Whoami =
  | { principal: "admin" }
  | { principal: "tenant"; tenant: string };

/** An uploaded file of a tenant. */
export interface FileInfo {
  tenant?: string;
  name: string;
  kind: FileKind;
  size: number;
  sha256: string;
  uploadedAt: string;
}

export type ExecutionStatus = Execution["status"];

/** `GET /api/v1/tenants/{t}/executions`. */
export interface ExecutionPage {
  executions: Execution[];
  cursor: string | null;
}

/** Filters of `GET /api/v1/tenants/{t}/executions`. */
export interface ExecutionQuery {
  limit?: number;
  cursor?: string;
  event?: string;
  package?: string;
  status?: ExecutionStatus;
}

/** `GET /api/v1/tenants/{t}/queues/{q}/dead`. */
export interface DeadLetterPage {
  dead: DeadLetterView[];
  cursor: string | null;
}

/** Paging of `GET /api/v1/tenants/{t}/queues/{q}/dead`. */
export interface DeadLetterQuery {
  limit?: number;
  cursor?: string;
}

/** `POST /api/v1/tenants/{t}/queues/{q}/dead/replay`. */
export interface ReplayResult {
  replayed: number;
  /** The ids put back in the queue. */
  ids: string[];
  /** Ids asked for that were not dead letters of the queue. */
  notFound: string[];
}

/** `DELETE /api/v1/tenants/{t}/queues/{q}/dead`. */
export interface PurgeResult {
  purged: number;
}

/** `POST /events/{tenant}/{event}`. */
export interface SendResult {
  accepted: number;
  ids: string[];
  /** When the items run, when the request delayed them. */
  runAt?: string;
}

/** `DELETE .../events/{event}/items/{id}`. */
export interface CancelResult {
  id: string;
  event: string;
  state: "waiting" | "delayed";
  runAt?: string;
}

/** One event in `GET .../queues/{queue}/delayed`. */
export interface DelayedEvent {
  id: string;
  event: string;
  runAt: string;
}

/** `GET .../queues/{queue}/delayed`. */
export interface DelayedPage {
  delayed: DelayedEvent[];
  cursor: string | null;
}

/** `POST .../executions/{id}/rerun`. */
export interface RerunResult {
  accepted: number;
  ids: string[];
  rerunOf: string;
}

/** `GET /healthz`. */
export interface Health {
  /** `ok`, or `failing` (with HTTP 503) when a check fails. */
  status: string;
  checks?: Record<string, unknown>;
  [key: string]: unknown;
}

/** `GET /meta`. */
export interface Meta {
  name: string;
  version: string;
  /** The components this process runs: `ctl`, `repo`, `listener`, `executor`, `recorder`. */
  components: unknown[];
  /** Names the process or isolate, when it was given a name. */
  instance?: string;
  /** Definition changes this process has seen since it started. */
  definitionsGeneration?: number;
  /**
   * How many definition changes had been announced when this process last
   * reloaded its definitions; a deploy has reached it when this is at least
   * the `definitionsLatest` read after the deploy.
   */
  definitionsSeen?: number;
  /** How many definition changes the store has announced so far. */
  definitionsLatest?: number | null;
  /** The sandbox Workers, when this process runs the executor. */
  sandbox?: { workers: number; busy: number };
  /** The limits of runtimes that declare none. */
  limits?: {
    timeoutMs?: number;
    memoryMb?: number;
    fuel?: number;
    retries?: number;
  };
  [key: string]: unknown;
}

/** One problem of a rejected package (400/422 on deploy). */
export interface PackageIssue {
  kind: string;
  path: string;
  message: string;
  line: number;
  col: number;
}

/** An `application/problem+json` body. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  [key: string]: unknown;
}

/** What is kept of a tenant. */
export interface RetentionPolicy {
  /** Executions older than this many days go; 0: no age limit. */
  days: number;
  /** The newest this many executions stay; 0: no limit. */
  executions: number;
  /** Versions kept of each package, besides those queued events pin. */
  versions: number;
}

/** What a tenant may store. */
export interface Quotas {
  files: number;
  bytes: number;
}

/** What a tenant stores and keeps. */
export interface TenantUsage {
  files: number;
  bytes: number;
  versions: number;
  executions: number;
}

/** A change of a tenant's settings: null gives a member back to the platform's default. */
export interface TenantSettingsPatch {
  retention?: { [K in keyof RetentionPolicy]?: number | null };
  quotas?: { [K in keyof Quotas]?: number | null };
}

/** A tenant as `GET /api/v1/tenants` shows it. */
export interface TenantInfo {
  id: string;
  createdAt?: string;
  hasToken: boolean;
  tokenCreatedAt?: string;
  /** The retention in force (its own settings over the platform's). */
  retention?: RetentionPolicy;
  quotas?: Quotas;
  /** What the tenant sets itself. */
  settings?: {
    retention?: Partial<RetentionPolicy>;
    quotas?: Partial<Quotas>;
  };
  usage?: TenantUsage;
}

/** One pass of the retention sweeper. */
export interface SweepReport {
  at: string;
  holder: string;
  ms: number;
  tenants: number;
  executions: number;
  versions: number;
  pinned: number;
  blobs: number;
  complete: boolean;
}

/** `GET /api/v1/retention`: the platform's defaults and its sweeper. */
export interface RetentionStatus {
  retention: RetentionPolicy;
  quotas: Quotas;
  sweeper: {
    /** Who holds the sweeper's lease now. */
    holder: string | null;
    /** How often the process asked sweeps; null when it does not. */
    intervalMs: number | null;
    /** The last pass that removed something, whichever process ran it. */
    last?: SweepReport;
    /** The asked process's last pass. */
    checked: SweepReport | null;
    totals: { executions: number; versions: number; blobs: number };
  };
}

/** A tenant's new token, shown once. */
export interface TenantToken {
  id: string;
  token: string;
}

/** A tenant's webhook signing secret, and the previous one during its grace period. */
export interface WebhookSecret {
  secret: string;
  previous?: { secret: string; validUntil: string };
}
