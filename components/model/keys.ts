import { collectedKey } from "@jobico/goico";
/** One key builder per KV entity of Jobico. */
export const keys = {
  /** A tenant that has deployed or uploaded something. */
  tenant: (tenant: string): Deno.KvKey => ["tenant", tenant],
  tenants: (): Deno.KvKey => ["tenant"],
  /**
   * When a tenant came to be (ms since the epoch, a KvU64): every write
   * that makes the tenant takes the minimum with its own time (tenantBorn),
   * so the first one stays, without a read.
   */
  tenantBorn: (tenant: string): Deno.KvKey => ["tenantborn", tenant],
  /** A tenant's token hash and webhook secrets. */
  tenantCredentials: (tenant: string): Deno.KvKey => ["tenantcred", tenant],
  /** Which tenant a token (by its sha-256) belongs to. */
  tokenHash: (hash: string): Deno.KvKey => ["tokenhash", hash],
  /**
   * A tenant being deleted: written in the atomic that revokes it, removed
   * when every trace of it is gone (see tenant_deletion.ts).
   */
  tenantDeletion: (tenant: string): Deno.KvKey => ["tenantdel", tenant],
  tenantDeletions: (): Deno.KvKey => ["tenantdel"],
  /** A webhook signature already accepted (refused if sent again). */
  signatureSeen: (
    tenant: string,
    signature: string,
  ): Deno.KvKey => ["sigseen", tenant, signature],
  /**
   * Every prefix that holds a tenant's data (queues aside: they live in the
   * durable queue's keys), the tenant marker last.
   */
  tenantPrefixes: (tenant: string): Deno.KvKey[] => [
    ["pkg", tenant],
    ["pkgver", tenant],
    ["pkgsrc", tenant],
    ["pkgseq", tenant],
    ["evowner", tenant],
    ["file", tenant],
    ["idem", tenant],
    ["sigseen", tenant],
    ["exec", tenant],
    ["execcount", tenant],
    ["execnew", tenant],
    ["execlog", tenant],
    ["pkgpin", tenant],
    ["usage", tenant],
    ["tenantblob", tenant],
    ["tenantset", tenant],
    ["signal", "executions", tenant],
    ["sched", tenant],
    ["flowstate", tenant],
    ["tenantcred", tenant],
    ["tenant", tenant],
  ],
  /**
   * A key's rate-limit window or debounced item of an event (see
   * components/flow/flow_plan.ts).
   */
  flowState: (
    tenant: string,
    event: string,
    kind: "rate" | "debounce",
    key: string,
  ): Deno.KvKey => ["flowstate", tenant, event, kind, key],
  /** A named file of a tenant: its kind and the blob it points to. */
  file: (tenant: string, name: string): Deno.KvKey => ["file", tenant, name],
  files: (tenant: string): Deno.KvKey => ["file", tenant],
  /** The current version pointer of a package. */
  packageHead: (tenant: string, id: string): Deno.KvKey => ["pkg", tenant, id],
  packageHeads: (tenant: string): Deno.KvKey => ["pkg", tenant],
  /** The current version pointers of every tenant's packages. */
  allPackageHeads: (): Deno.KvKey => ["pkg"],
  /** The last tick of an event's schedule that was sent (see scheduler.ts). */
  scheduleCursor: (
    tenant: string,
    event: string,
  ): Deno.KvKey => ["sched", tenant, event],
  /** An immutable package version (model and pinned files). */
  packageVersion: (
    tenant: string,
    id: string,
    version: number,
  ): Deno.KvKey => ["pkgver", tenant, id, version],
  packageVersions: (
    tenant: string,
    id: string,
  ): Deno.KvKey => ["pkgver", tenant, id],
  /** Every version of every package of a tenant. */
  tenantVersions: (tenant: string): Deno.KvKey => ["pkgver", tenant],
  /** The last version number a package ever had (kept after a delete). */
  packageSeq: (
    tenant: string,
    id: string,
  ): Deno.KvKey => ["pkgseq", tenant, id],
  /** The YAML source of a package version. */
  packageSource: (
    tenant: string,
    id: string,
    version: number,
  ): Deno.KvKey => ["pkgsrc", tenant, id, version],
  packageSources: (
    tenant: string,
    id: string,
  ): Deno.KvKey => ["pkgsrc", tenant, id],
  /** Which package of a tenant declares an event. */
  eventOwner: (
    tenant: string,
    event: string,
  ): Deno.KvKey => ["evowner", tenant, event],
  /** Bumped on every definition change (the definition stream). */
  definitionSignal: (): Deno.KvKey => ["signal", "definitions"],
  /** The first answer to a request with an Idempotency-Key (expires after 24 h). */
  idempotency: (
    tenant: string,
    event: string,
    key: string,
  ): Deno.KvKey => ["idem", tenant, event, key],
  /** An execution record. */
  execution: (tenant: string, id: string): Deno.KvKey => ["exec", tenant, id],
  executions: (tenant: string): Deno.KvKey => ["exec", tenant],
  /**
   * The executions of a tenant one commit recorded, not yet in the
   * tenant's log (see execution_log.ts): written by that commit (a
   * WriteBatch `collect` list: the smallest id and how many, the ids as
   * its value), moved to the log soon after.
   */
  executionInbox: (tenant: string, ids: string[]): Deno.KvKey =>
    collectedKey(["execnew", tenant], ids),
  executionInboxes: (tenant: string): Deno.KvKey => ["execnew", tenant],
  /**
   * The executions of a tenant one commit recorded, in the tenant's log,
   * keyed by the versionstamp of that commit (its records'); the ids as
   * its value.
   */
  executionLogEntry: (
    tenant: string,
    versionstamp: string,
  ): Deno.KvKey => ["execlog", tenant, versionstamp],
  executionLogEntries: (tenant: string): Deno.KvKey => ["execlog", tenant],
  /** Bumped whenever an execution of the tenant is recorded. */
  executionSignal: (
    tenant: string,
  ): Deno.KvKey => ["signal", "executions", tenant],
  /**
   * KvU64 counters of a tenant's execution records: `recorded` (the
   * executor adds) and `swept` (the retention sweeper sets).
   */
  executionCount: (
    tenant: string,
    which: "recorded" | "swept",
  ): Deno.KvKey => ["execcount", tenant, which],
  /** KvU64: how many queued events (any state) pin a package version. */
  versionPin: (
    tenant: string,
    id: string,
    version: number,
  ): Deno.KvKey => ["pkgpin", tenant, id, version],
  versionPins: (tenant: string): Deno.KvKey => ["pkgpin", tenant],
  /** A tenant's storage usage: files, bytes, versions (see UsageLedger). */
  usage: (tenant: string): Deno.KvKey => ["usage", tenant],
  /** A tenant's own retention and quota settings (admin-set). */
  tenantSettings: (tenant: string): Deno.KvKey => ["tenantset", tenant],
  /** What a tenant keeps of a blob: its size, and the names and versions using it. */
  blobRef: (tenant: string, sha256: string): Deno.KvKey => [
    "tenantblob",
    tenant,
    sha256,
  ],
  blobRefs: (tenant: string): Deno.KvKey => ["tenantblob", tenant],
  /**
   * Index of the tenants that use a blob, written with their `blobRef` and
   * removed with them (`UsageLedger.forgetTenant` when a tenant is deleted);
   * an entry whose `blobRef` is gone is stale.
   */
  blobUser: (sha256: string, tenant: string): Deno.KvKey => [
    "contentuser",
    sha256,
    tenant,
  ],
  blobUsers: (sha256: string): Deno.KvKey => ["contentuser", sha256],
  /** A blob that lost its last reference of some tenant: collect it if no one uses it. */
  blobCandidate: (sha256: string): Deno.KvKey => ["blobgc", sha256],
  blobCandidates: (): Deno.KvKey => ["blobgc"],
  /** The retention sweeper's lease (one process sweeps at a time) and state. */
  retention: (what: "lease" | "state"): Deno.KvKey => ["retention", what],
  /** The prefix of the event queues. */
  queues: (): Deno.KvKey => ["queue"],
  /** Content-addressed blobs. */
  blobs: (): Deno.KvKey => ["blob"],
  /** Blob uploads under way (see goico/blob_store.ts). */
  blobUploads: (): Deno.KvKey => ["blobupload"],
};

/** Names used in paths and keys: tenant, package, event, queue, runtime ids. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** File names: the same set, up to 128 characters. */
export const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
