/**
 * What the executor reports once an execution is recorded, and the
 * platform's implementation: Prometheus counters and an OpenTelemetry span
 * per execution, continuing the trace of the webhook that queued it.
 */
import type { EventItem } from "../model/event_item.ts";
import type { Execution } from "../executions/execution.ts";
import type { PlatformMetrics } from "./platform_metrics.ts";
import { recordSpan } from "./tracing.ts";

/** What follows a recorded execution. */
export type NextStep = "ack" | "retry" | "dead";

export interface ExecutionObserver {
  recorded(exec: Execution, item: EventItem, next: NextStep): void;
}

export const silentObserver: ExecutionObserver = { recorded: () => {} };

/** Metrics and a `jobico.execute` span for each recorded execution. */
export function telemetryObserver(
  metrics: PlatformMetrics,
): ExecutionObserver {
  return {
    recorded(exec, item, next) {
      metrics.executed(exec.tenant, exec.status, exec.durationMs);
      if (next === "dead") metrics.deadLettered(exec.tenant);
      recordSpan("jobico.execute", {
        traceparent: item.trace,
        startMs: Date.parse(exec.startedAt),
        durationMs: exec.durationMs,
        error: exec.error ?? undefined,
        attributes: {
          "jobico.tenant": exec.tenant,
          "jobico.package": exec.package,
          "jobico.version": item.version,
          "jobico.event": exec.event,
          "jobico.event_id": exec.eventId,
          "jobico.execution_id": exec.id,
          "jobico.queue": exec.queue,
          "jobico.status": exec.status,
          "jobico.code": exec.code ?? -1,
          "jobico.attempt": exec.attempt,
          "jobico.duration_ms": exec.durationMs,
          "jobico.next": next,
        },
      });
    },
  };
}
