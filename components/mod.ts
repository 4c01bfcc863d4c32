/**
 * Jobico's components: control service, file repository, listener, queue
 * items, executor and recorder, and the platform that wires them.
 * @module
 */
export { Authenticator, tenantGuard } from "./http/authenticator.ts";
export { MIN_ADMIN_TOKEN, resolveAdminToken } from "./server/admin_token.ts";
export { ctlApp } from "./ctl/ctl_routes.ts";
export { Definitions, type EventRoute } from "./packages/definitions.ts";
export type {
  EventAuth,
  EventDef,
  FileKind,
  JobDef,
  JobPackage,
  PackageIssue,
  QueueDef,
  ResultDef,
  RuntimeDef,
  SchemaDef,
} from "./model/job_package.ts";
export {
  declaredEvents,
  type DeployOptions,
  type DeployPlan,
  type PackageHead,
  PackageStore,
  type PackageVersion,
  type PendingFile,
  type PlanOptions,
} from "./packages/package_store.ts";
export {
  type DiffInput,
  diffPackages,
  type FieldChange,
  type PackageChange,
} from "./model/package_diff.ts";
export {
  parsePackage,
  type ParsePackageOptions,
  type ParsePackageResult,
} from "./model/parse_package.ts";
export { Executor, type ExecutorOptions } from "./executor/executor.ts";
export {
  JobicoletRunner,
  type RunOutcome,
} from "./executor/jobicolet_runner.ts";
export {
  type Admission,
  BacklogGauge,
  type BacklogGaugeOptions,
  type Refusal,
  retryAfterSeconds,
} from "./listener/backlog_gauge.ts";
export { listenerApp, type ListenerOptions } from "./listener/listener.ts";
export {
  DEFAULT_MAX_DELAY_MS,
  deliveryTime,
} from "./listener/delivery_time.ts";
export {
  type ScheduleCursor,
  Scheduler,
  type SchedulerOptions,
  type SchedulerPass,
} from "./scheduler/scheduler.ts";
export { flowApp, type FlowOptions } from "./flow/flow_routes.ts";
export {
  DEFAULT_MIN_SCHEDULE_INTERVAL_MS,
  type ScheduleDef,
  type ScheduledItem,
} from "./model/schedule.ts";
export {
  DEFAULT_TOLERANCE_SEC,
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhook,
  type VerifyWebhookOptions,
  type VerifyWebhookResult,
} from "./listener/webhook_signature.ts";
export {
  type Component,
  COMPONENTS,
  createPlatform,
  type Platform,
  type PlatformOptions,
  type PlatformParts,
  type ServeOptions,
  servePlatformUntilSignal,
  startPlatform,
  VERSION,
} from "./platform.ts";
export type { EventItem } from "./model/event_item.ts";
export {
  type QueueRef,
  queueRefOf,
  queueStorageName,
  tenantQueuesPrefix,
} from "./model/queue_ref.ts";
export {
  type DeadLetterView,
  queueApp,
  type QueueView,
} from "./ctl/queue_routes.ts";
export type {
  Execution,
  ExecutionLog,
  LogLevelName,
} from "./executions/execution.ts";
export {
  type ExecutionFilter,
  ExecutionStore,
  type ListOptions,
} from "./executions/execution_store.ts";
export { recorderApp } from "./executions/recorder_routes.ts";
export {
  type FileInfo,
  FileRepo,
  type FileRepoOptions,
} from "./repo/file_repo.ts";
export { compileSchema, SchemaCache } from "./repo/compile_schema.ts";
export { repoApp } from "./repo/repo_routes.ts";
export {
  assertAdmin,
  assertTenantAccess,
  type AuthVariables,
  type Principal,
  principalName,
} from "./http/principal.ts";
export { deleteTenant } from "./tenants/delete_tenant.ts";
export { tenantApp } from "./tenants/tenant_routes.ts";
export {
  type TenantInfo,
  TenantStore,
  type WebhookSecrets,
} from "./tenants/tenant_store.ts";
