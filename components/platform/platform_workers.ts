/**
 * What works in the background of a process, by the components it runs:
 * the sandbox and the executor (executor), the scheduler (where events are
 * received: listener), the retention sweeper (ctl).
 */
import { WasmPool } from "@jobico/goico";
import { Executor } from "../executor/executor.ts";
import { JobicoletRunner } from "../executor/jobicolet_runner.ts";
import { telemetryObserver } from "../observe/execution_observer.ts";
import { RetentionSweeper } from "../retention/retention_sweeper.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import type { PlatformContext } from "./platform_context.ts";
import type { PlatformStores } from "./platform_stores.ts";

/** The background workers of one process; absent where their component does not run. */
export interface PlatformWorkers {
  pool?: WasmPool;
  executor?: Executor;
  scheduler?: Scheduler;
  sweeper?: RetentionSweeper;
}

export function createPlatformWorkers(
  ctx: PlatformContext,
  s: PlatformStores,
): PlatformWorkers {
  const { options, enabled, logger } = ctx;
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  const pool = enabled.has("executor")
    ? new WasmPool({ size: options.workers })
    : undefined;
  return {
    pool,
    executor: pool && new Executor({
      kv: s.kv,
      queue: s.queue,
      definitions: s.definitions,
      executions: s.executions,
      logger,
      limits: ctx.limits,
      tenantConcurrency: options.tenantConcurrency ??
        Math.max(1, pool.size - 1),
      tenantLimit: async (t) => (await s.policies.get(t)).quotas.maxConcurrency,
      retryBaseMs: options.retryBaseMs,
      runner: new JobicoletRunner((sha) => s.repo.bytes(sha), { pool }),
      observer: telemetryObserver(s.metrics),
      storeHealth: s.storeHealth,
      ...(options.shutdownGraceMs !== undefined &&
        { shutdownGraceMs: options.shutdownGraceMs }),
    }),
    // The platform sends scheduled events where it receives events.
    scheduler: enabled.has("listener")
      ? new Scheduler({
        kv: s.kv,
        store: s.store,
        definitions: s.definitions,
        queue: s.queue,
        logger,
        maxQueueDepth: options.maxQueueDepth,
        ...(options.minScheduleIntervalMs !== undefined &&
          { minIntervalMs: options.minScheduleIntervalMs }),
      })
      : undefined,
    sweeper: enabled.has("ctl") && sweepIntervalMs > 0
      ? new RetentionSweeper({
        kv: s.kv,
        executions: s.executions,
        ledger: s.ledger,
        policies: s.policies,
        logger,
        intervalMs: sweepIntervalMs,
      })
      : undefined,
  };
}
