/**
 * Which queue of which tenant: how components name a queue. goico's
 * `DurableQueue` knows queues by one string (their storage name); this is
 * the one place that makes that string from a reference, and reads one back
 * from a name the queue lists.
 *
 * @module
 */

/** A queue of a tenant, as a package declares it (`supplierqueue`). */
export interface QueueRef {
  readonly tenant: string;
  readonly queue: string;
}

/**
 * The name the durable queue keeps the queue under: `tenant/queue`. Tenant
 * ids are safe names (no `/`, see `SAFE_ID`), so the name reads back
 * unambiguously with {@linkcode queueRefOf}.
 *
 * @example
 * ```ts
 * queueStorageName({ tenant: "demo", queue: "greetings" }); // "demo/greetings"
 * ```
 */
export function queueStorageName(ref: QueueRef): string {
  return `${tenantQueuesPrefix(ref.tenant)}${ref.queue}`;
}

/** The start of the storage names of every queue of a tenant. */
export function tenantQueuesPrefix(tenant: string): string {
  return `${tenant}/`;
}

/**
 * The queue a storage name stands for (the inverse of
 * {@linkcode queueStorageName}), for names the durable queue lists.
 *
 * @throws {RangeError} When the name was not made by `queueStorageName`.
 */
export function queueRefOf(name: string): QueueRef {
  const slash = name.indexOf("/");
  if (slash <= 0) {
    throw new RangeError(`Queue name "${name}" names no tenant`);
  }
  return { tenant: name.slice(0, slash), queue: name.slice(slash + 1) };
}
