/**
 * The shapes of the Jobico HTTP API (v1) as the CLI sees them.
 */

/** `POST /api/v1/packages`, `POST .../rollback`. */
export interface PackageRef {
  tenant: string;
  id: string;
  version: number;
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
  current: boolean;
}

export type FileKind = "wasm" | "schema";

/** An uploaded file of a tenant. */
export interface FileInfo {
  tenant?: string;
  name: string;
  kind: FileKind;
  size: number;
  sha256: string;
  uploadedAt: string;
}

export type ExecutionStatus = "ok" | "error" | "failed";

export type LogLevel =
  | "debug"
  | "info"
  | "warn"
  | "error"
  | "fatal"
  | "panic"
  | "none";

export interface ExecutionLog {
  level: LogLevel;
  message: string;
  source?: "module" | "stdout" | "stderr" | "host";
}

/** One run of a Jobicolet, as the recorder keeps it. */
export interface Execution {
  id: string;
  eventId: string;
  tenant: string;
  package: string;
  event: string;
  queue: string;
  /** `ok`: code 0; `error`: a non-zero code; `failed`: trap, timeout, host. */
  status: ExecutionStatus;
  /** The code the Jobicolet returned; null when it did not return. */
  code: number | null;
  /** The result string the Jobicolet returned; null when it did not return. */
  result: string | null;
  /** Why the execution failed; null unless `status` is `failed`. */
  error: string | null;
  logs: ExecutionLog[];
  attempt: number;
  startedAt: string;
  durationMs: number;
}

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

/** `POST /events/{tenant}/{event}`. */
export interface SendResult {
  accepted: number;
  ids: string[];
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
  components: unknown[];
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
