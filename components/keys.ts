/** One key builder per KV entity of Jobico. */
export const keys = {
  /** A tenant that has deployed or uploaded something. */
  tenant: (tenant: string): Deno.KvKey => ["tenant", tenant],
  tenants: (): Deno.KvKey => ["tenant"],
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
    ["signal", "executions", tenant],
    ["tenantcred", tenant],
    ["tenant", tenant],
  ],
  /** A named file of a tenant: its kind and the blob it points to. */
  file: (tenant: string, name: string): Deno.KvKey => ["file", tenant, name],
  files: (tenant: string): Deno.KvKey => ["file", tenant],
  /** The current version pointer of a package. */
  packageHead: (tenant: string, id: string): Deno.KvKey => ["pkg", tenant, id],
  packageHeads: (tenant: string): Deno.KvKey => ["pkg", tenant],
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
  /** Bumped whenever an execution of the tenant is recorded. */
  executionSignal: (
    tenant: string,
  ): Deno.KvKey => ["signal", "executions", tenant],
  /** The prefix of the event queues. */
  queues: (): Deno.KvKey => ["queue"],
  /** Content-addressed blobs. */
  blobs: (): Deno.KvKey => ["blob"],
  /** Blob uploads under way (see goico/blob_store.ts). */
  blobUploads: (): Deno.KvKey => ["blobupload"],
};

/** The durable queue name of a tenant's queue. */
export function queueName(tenant: string, queue: string): string {
  return `${tenant}/${queue}`;
}

/** Names used in paths and keys: tenant, package, event, queue, runtime ids. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** File names: the same set, up to 128 characters. */
export const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
