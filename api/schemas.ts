/**
 * The API's schemas by the name `components.schemas` gives them: the one
 * source of the OpenAPI document's schemas, of the TypeScript types of the
 * answers (server and CLI) and of the checks of request bodies.
 *
 * Each schema is a JSON Schema object (TypeBox: `Static<typeof S>` is its
 * type), closed (`additionalProperties: false`) where the answer is, so
 * tests/openapi_test.ts notices a member an answer adds and no schema has.
 *
 * @module
 */
import { Accepted, Cancelled, EventBody } from "./event_schemas.ts";
import { Execution, ExecutionPage, Rerun } from "./execution_schemas.ts";
import { FileInfo, FileList } from "./file_schemas.ts";
import {
  DeployPlan,
  DeployResult,
  JobPackage,
  Package,
  PackageHead,
  PackageList,
  PackageVersions,
  Rollback,
} from "./package_schemas.ts";
import { Problem } from "./problem_schema.ts";
import {
  DeadLetter,
  DeadLetterIds,
  DeadLetterPage,
  DelayedPage,
  EventLimits,
  Purged,
  Queue,
  QueueLimits,
  QueueList,
  Replayed,
  SlotUse,
} from "./queue_schemas.ts";
import { Schedule, ScheduleList } from "./schedule_schemas.ts";
import {
  NewTenant,
  Retention,
  Tenant,
  TenantList,
  TenantSettings,
  TenantToken,
  WebhookSecrets,
  Whoami,
} from "./tenant_schemas.ts";

/** The JSON Schemas of `components.schemas`. */
export const SCHEMAS = {
  Problem,
  Whoami,
  NewTenant,
  TenantToken,
  Tenant,
  TenantSettings,
  Retention,
  TenantList,
  WebhookSecrets,
  JobPackage,
  DeployResult,
  DeployPlan,
  PackageHead,
  PackageList,
  Package,
  PackageVersions,
  Rollback,
  FileInfo,
  FileList,
  Execution,
  ExecutionPage,
  Queue,
  QueueList,
  DeadLetter,
  DeadLetterPage,
  DeadLetterIds,
  Replayed,
  Purged,
  EventBody,
  Accepted,
  Cancelled,
  DelayedPage,
  Rerun,
  QueueLimits,
  EventLimits,
  SlotUse,
  Schedule,
  ScheduleList,
};

/** The name of a schema of `components.schemas`. */
export type SchemaName = keyof typeof SCHEMAS;
