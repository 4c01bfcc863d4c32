/**
 * The shapes of the Jobico HTTP API (v1) as the CLI sees them: the API's
 * own types (api/: the schemas the server's document shows and its
 * answers are typed by), under the names the CLI has used. This file
 * imports only api/ (tests/import_rules_test.ts).
 */
import type {
  DeadLetterPage,
  DeployResult,
  Package,
  PackageHead,
  Problem as ApiProblem,
  TenantSettings,
} from "../api/mod.ts";

export type {
  Accepted as SendResult,
  Cancelled as CancelResult,
  ChainWarning,
  DeadLetter,
  DeadLetterPage,
  DeadLetterQuery,
  DelayedEvent,
  DelayedPage,
  DeployPlan,
  DeployResult,
  Execution,
  ExecutionLog,
  ExecutionPage,
  ExecutionQuery,
  ExecutionStatus,
  FieldChange,
  FileInfo,
  FileKind,
  LogLevel,
  PackageChange,
  PackageIssue,
  PackageVersionInfo as PackageVersion,
  PendingFile,
  Purged as PurgeResult,
  Queue as QueueInfo,
  QueueLimits,
  Quotas,
  Replayed as ReplayResult,
  Rerun as RerunResult,
  Retention as RetentionStatus,
  RetentionPolicy,
  Schedule,
  ScheduleList,
  SweepReport,
  Tenant as TenantInfo,
  TenantToken,
  TenantUsage,
  WebhookSecrets as WebhookSecret,
  Whoami,
} from "../api/mod.ts";

/** `POST /api/v1/packages`, `POST .../rollback`: which version is current. */
export type PackageRef = Pick<DeployResult, "tenant" | "id" | "version">;

/** One package in `GET /api/v1/tenants/{t}/packages`. */
export type PackageSummary = PackageHead;

/** `GET /api/v1/tenants/{t}/packages/{id}`. */
export type PackageDetail = Package;

/** A change of a tenant's settings: null gives a member back to the platform's default. */
export type TenantSettingsPatch = TenantSettings;

/**
 * An `application/problem+json` body: the platform's (`ApiProblem`), or
 * whatever a proxy in between answered, so each member may be missing.
 */
export type Problem = Partial<ApiProblem> & { [key: string]: unknown };

/** One dead letter's page, as `GET .../queues/{q}/dead` answers it. */
export type DeadLetterList = DeadLetterPage["dead"];

/**
 * `GET /healthz`. Goico (the framework) describes it with an open schema:
 * the platform adds its checks.
 */
export interface Health {
  /** `ok`, or `failing` (with HTTP 503) when a check fails. */
  status: string;
  checks?: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * `GET /meta`. Goico describes only `name` and `version`; the members
 * below are what the platform adds for a caller with a token.
 */
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
