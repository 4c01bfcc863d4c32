/**
 * The stores every process of the platform opens on its KV, whatever
 * components it runs: blobs, files, tenants and their policies, packages
 * and definitions, queues, execution records and their live streams.
 */
import { UploadChecker } from "../repo/upload_checker.ts";
import {
  BlobStore,
  DurableQueue,
  jsonRecords,
  SecretBox,
  StoreHealth,
} from "@jobico/goico";
import { ExecutionStreams } from "../executions/execution_streams.ts";
import { ExecutionStore } from "../executions/execution_store.ts";
import { registerStreamMetrics } from "../executions/stream_metrics.ts";
import type { EventItem } from "../model/event_item.ts";
import { keys } from "../model/keys.ts";
import { PlatformMetrics } from "../observe/platform_metrics.ts";
import { Definitions } from "../packages/definitions.ts";
import { PackageStore } from "../packages/package_store.ts";
import { SchemaCache } from "../repo/compile_schema.ts";
import { FileRepo } from "../repo/file_repo.ts";
import { UsageLedger } from "../repo/usage_ledger.ts";
import { TenantPolicies } from "../tenants/tenant_policies.ts";
import { policyDefaults } from "../tenants/tenant_policy.ts";
import { TenantStore } from "../tenants/tenant_store.ts";
import { Authenticator } from "../http/authenticator.ts";
import type { PlatformContext } from "./platform_context.ts";

/** The stores of one process, all on `options.kv`. */
export interface PlatformStores {
  kv: Deno.Kv;
  blobs: BlobStore;
  policies: TenantPolicies;
  ledger: UsageLedger;
  repo: FileRepo;
  tenants: TenantStore;
  /** Who a request comes from: the admin token or a tenant's. */
  authenticator: Authenticator;
  store: PackageStore;
  definitions: Definitions;
  executions: ExecutionStore;
  streams: ExecutionStreams;
  queue: DurableQueue<EventItem>;
  metrics: PlatformMetrics;
  /** Whether the store takes writes (a full disk still reads). */
  storeHealth: StoreHealth;
}

export function createPlatformStores(ctx: PlatformContext): PlatformStores {
  const { options, logger } = ctx;
  const { kv } = options;
  const blobs = new BlobStore(kv, keys.blobs(), {
    uploads: keys.blobUploads(),
  });
  const policies = new TenantPolicies(kv, policyDefaults(options));
  const ledger = new UsageLedger(kv, blobs, {
    quotas: async (tenant) => (await policies.get(tenant)).quotas,
  });
  // Uploads are checked in a Worker: compiling a schema or metering a
  // module must not hold the isolate that serves every tenant's events.
  const checker = new UploadChecker();
  ctx.shutdown.addEventListener("abort", () => checker.close(), {
    once: true,
  });
  const repo = new FileRepo(kv, blobs, {
    ledger,
    maxMemoryMb: ctx.maxLimits.memoryMb,
    check: (kind, name, bytes, mb) => checker.check(kind, name, bytes, mb),
  });
  const store = new PackageStore(kv, repo, {
    maxLimits: ctx.maxLimits,
    minScheduleIntervalMs: options.minScheduleIntervalMs,
  });
  const executions = new ExecutionStore(kv);
  const tenants = new TenantStore(kv, {
    secrets: options.secretKey ? new SecretBox(options.secretKey) : undefined,
  });
  const authenticator = new Authenticator(options.adminToken, tenants);
  const streams = new ExecutionStreams(executions, ctx.shutdown, {
    ...options.streams,
    // A stream ends once its token stops working or its tenant is deleted.
    revoked: (tenant, credential) =>
      authenticator.revokedAccess(credential, tenant),
    onError: (tenant, err) =>
      logger.error("reading executions for streams failed", {
        tenant,
        error: String(err),
      }),
  });
  const queue = new DurableQueue<EventItem>(kv, keys.queues(), {
    leaseMs: options.leaseMs,
    // JSON bytes: several times cheaper to write and read than V8 values.
    codec: jsonRecords,
    // The item's priority band (goico/queue_priority.ts).
    priorityOf: (item) => item.priority,
    agingMs: options.priorityAgingMs,
  });
  const metrics = new PlatformMetrics(queue);
  registerStreamMetrics(metrics.registry, streams);
  return {
    kv,
    blobs,
    policies,
    ledger,
    repo,
    tenants,
    authenticator,
    store,
    definitions: new Definitions(
      store,
      new SchemaCache((sha) => repo.bytes(sha)),
    ),
    executions,
    streams,
    queue,
    metrics,
    storeHealth: new StoreHealth(kv, { logger }),
  };
}
