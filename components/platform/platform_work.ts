/**
 * The background work of one process until it shuts down: following the
 * definitions, the workers (executor, scheduler, sweeper), finishing tenant
 * deletes a crash cut short (ctl) and collecting abandoned uploads (repo,
 * ctl).
 */
import { abortableSleep, type Logger, storeFailure } from "@jobico/goico";
import { finishTenantDeletions } from "../tenants/delete_tenant.ts";
import type { PlatformContext } from "./platform_context.ts";
import type { PlatformStores } from "./platform_stores.ts";
import type { PlatformWorkers } from "./platform_workers.ts";

/** Runs the background work until `signal` aborts, then closes the sandbox. */
export function platformWork(
  ctx: PlatformContext,
  s: PlatformStores,
  w: PlatformWorkers,
): (signal: AbortSignal) => Promise<void> {
  const { options, enabled, logger } = ctx;
  const leaseMs = options.leaseMs ?? 4000;
  const uploadGraceMs = options.uploadGraceMs ?? 10 * 60_000;
  return async (signal) => {
    try {
      await Promise.all([
        s.definitions.follow(signal),
        w.executor?.run(signal),
        w.scheduler?.run(signal),
        w.sweeper?.run(signal),
        // Tenant deletes a crash cut short, and the last sweep of each.
        enabled.has("ctl") &&
        repeat(
          signal,
          leaseMs,
          logger,
          "finishing tenant deletes",
          () =>
            finishTenantDeletions(s, {
              finalSweepAfterMs: 2 * leaseMs + 1000,
              logger,
            }),
        ),
        // Chunks of uploads a crash cut short, and of collections of
        // content nobody uses (retention and tenant deletes, in ctl).
        (enabled.has("repo") || enabled.has("ctl")) &&
        repeat(
          signal,
          Math.min(uploadGraceMs, 60_000),
          logger,
          "collecting abandoned uploads",
          async () => {
            const c = await s.blobs.collectAbandoned(uploadGraceMs);
            if (c.uploads + c.headless > 0) {
              logger.info("collected abandoned uploads", { ...c });
            }
          },
        ),
      ]);
    } finally {
      w.pool?.close();
      // Moves of execution records to their tenants' logs, before the store closes.
      await s.executions.settled();
    }
  };
}

/**
 * Runs `fn` now and then every `everyMs` until `signal` aborts; a failure
 * is logged (a store failure is the store health's to log) and the next
 * run comes as usual.
 */
async function repeat(
  signal: AbortSignal,
  everyMs: number,
  logger: Logger,
  what: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await fn();
    } catch (err) {
      if (!storeFailure(err)) {
        logger.error(`${what} failed`, { error: String(err) });
      }
    }
    await abortableSleep(everyMs, signal);
  }
}
