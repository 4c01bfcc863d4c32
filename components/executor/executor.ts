/**
 * The executor: drains every queue in order, runs each event through its
 * Jobicolet, and in ONE atomic write records the execution, appends the
 * chained `result.ok` / `result.error` event and acknowledges the item. An
 * event is thus either untouched (and delivered again) or fully handled.
 */
import {
  type DurableQueue,
  type Logger,
  monotonicId,
  type QueuedItem,
} from "../../goico/mod.ts";
import type { Definitions } from "../ctl/definitions.ts";
import type { ResultDef } from "../ctl/job_package.ts";
import type { PackageVersion } from "../ctl/package_store.ts";
import { queueName } from "../keys.ts";
import type { EventItem } from "../queue/event_item.ts";
import type { Execution } from "../recorder/execution.ts";
import type { ExecutionStore } from "../recorder/execution_store.ts";
import {
  failedOutcome,
  type JobicoletRunner,
  type RunOutcome,
} from "./jobicolet_runner.ts";
import { describeSchemaError } from "../repo/describe_schema_error.ts";

export interface ExecutorOptions {
  kv: Deno.Kv;
  queue: DurableQueue<EventItem>;
  definitions: Definitions;
  executions: ExecutionStore;
  runner: JobicoletRunner;
  logger: Logger;
  /** Items leased at once per queue. Default 64. */
  batch?: number;
  /** How often expired leases are put back. Default 1 s. */
  recoverEveryMs?: number;
  now?: () => number;
}

const encoder = new TextEncoder();

export class Executor {
  readonly #draining = new Map<string, Promise<void>>();
  readonly #o: Required<Omit<ExecutorOptions, "now">> & { now: () => number };
  /** Executions recorded since start. */
  executed = 0;

  constructor(options: ExecutorOptions) {
    this.#o = { batch: 64, recoverEveryMs: 1000, now: Date.now, ...options };
  }

  /** Runs until `signal` aborts, then waits for the executions under way. */
  async run(signal: AbortSignal): Promise<void> {
    const { queue, logger } = this.#o;
    await queue.recoverExpired().catch((err) =>
      logger.error("recovering leases failed", { error: String(err) })
    );
    const timer = setInterval(() => {
      queue.recoverExpired().catch((err) =>
        logger.error("recovering leases failed", { error: String(err) })
      );
    }, this.#o.recoverEveryMs);
    try {
      for await (const _ of queue.feed.changes(signal)) {
        for (const name of await queue.activeQueues()) {
          this.#drain(name, signal);
        }
      }
    } finally {
      clearInterval(timer);
      await Promise.allSettled([...this.#draining.values()]);
    }
  }

  /** Starts draining a queue unless it is being drained already. */
  #drain(name: string, signal: AbortSignal): void {
    if (this.#draining.has(name)) return;
    const p = (async () => {
      try {
        while (!signal.aborted) {
          const items = await this.#o.queue.lease(name, this.#o.batch);
          if (items.length === 0) {
            if (await this.#o.queue.retireIfEmpty(name)) break;
            // Items in flight elsewhere or an append raced: look again shortly.
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          // Keep the batch's leases alive while it is worked on; a crash lets them lapse.
          const pending = [...items];
          const renewal = setInterval(() => {
            this.#o.queue.renew(pending).catch((err) =>
              this.#o.logger.warn("renewing leases failed", {
                queue: name,
                error: String(err),
              })
            );
          }, Math.max(50, this.#o.queue.leaseMs / 3));
          try {
            for (const item of items) {
              if (signal.aborted) break; // Leased items come back after their lease.
              await this.#handle(item);
              pending.shift();
            }
          } finally {
            clearInterval(renewal);
          }
        }
      } catch (err) {
        this.#o.logger.error("draining a queue failed", {
          queue: name,
          error: String(err),
        });
      } finally {
        this.#draining.delete(name);
      }
    })();
    this.#draining.set(name, p);
  }

  async #handle(item: QueuedItem<EventItem>): Promise<void> {
    const { kv, queue, definitions, executions, runner, logger } = this.#o;
    const ev = item.value;
    const startedAt = this.#o.now();
    const t0 = performance.now();
    const v = await definitions.version(ev.tenant, ev.package, ev.version);
    const route = v ? await definitions.routeIn(v, ev.event) : null;
    let outcome: RunOutcome;
    if (!v || !route) {
      outcome = failedOutcome(
        `Package "${ev.package}" version ${ev.version} no longer declares event "${ev.event}" (was the package deleted?)`,
      );
    } else {
      const runtime = v.package.runtimes.find((r) =>
        r.id === route.event.runtime
      );
      const sha = runtime ? v.files[runtime.moduleref] : undefined;
      outcome = !runtime || !sha
        ? failedOutcome(
          `Runtime "${route.event.runtime}" of event "${ev.event}" has no module`,
        )
        : await runner.run(
          sha,
          runtime.mainfuncname || "event",
          encoder.encode(JSON.stringify(ev.data)),
        );
    }
    const exec: Execution = {
      id: monotonicId(),
      eventId: ev.eventId,
      tenant: ev.tenant,
      package: ev.package,
      event: ev.event,
      queue: item.queue.slice(ev.tenant.length + 1),
      status: outcome.status,
      code: outcome.code,
      result: outcome.result,
      error: outcome.error,
      logs: outcome.logs,
      attempt: item.attempt,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    };
    const op = kv.atomic();
    const chained = v && route?.job
      ? await this.#chain(v, route.job.result, exec)
      : null;
    if (chained) {
      queue.append(op, chained.queue, [{
        id: chained.item.eventId,
        value: chained.item,
      }]);
    }
    executions.record(op, exec);
    queue.ack(op, item);
    const res = await op.commit();
    if (!res.ok) {
      logger.error(
        "recording an execution failed; the event will be delivered again",
        { eventId: ev.eventId },
      );
      return;
    }
    this.executed++;
  }

  /** The chained result event, validated against its schema; null when there is none. */
  async #chain(
    v: PackageVersion,
    result: ResultDef | undefined,
    exec: Execution,
  ): Promise<{ queue: string; item: EventItem } | null> {
    const target = exec.status === "ok" ? result?.ok : result?.error;
    if (!target) return null;
    const data = {
      code: exec.code,
      result: parseMaybeJson(exec.result),
      ...(exec.error ? { error: exec.error } : {}),
      source: {
        event: exec.event,
        eventId: exec.eventId,
        executionId: exec.id,
      },
    };
    const route = await this.#o.definitions.routeIn(v, target.id);
    if (!route) return null;
    if (!route.validate(data)) {
      const why = (route.validate.errors ?? []).map((e) => {
        const d = describeSchemaError(e);
        return `${d.path} ${d.message}`;
      }).join("; ");
      exec.logs.push({
        level: "warn",
        source: "host",
        message:
          `Result event "${target.id}" not sent: it does not match schema "${route.event.schema.schemaref}": ${why}`,
      });
      return null;
    }
    const eventId = monotonicId();
    return {
      queue: queueName(exec.tenant, target.supplierqueue),
      item: {
        tenant: exec.tenant,
        package: v.id,
        version: v.version,
        event: target.id,
        eventId,
        data,
      },
    };
  }
}

function parseMaybeJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
