/**
 * The executor: drains every queue in order (one lane per queue, so events
 * of a queue run in the order they were accepted; lanes of different queues
 * run in parallel on the sandbox pool, at most `tenantConcurrency` per
 * tenant), runs each event through its Jobicolet under its runtime's
 * limits, and commits the outcome in ONE atomic write together with what
 * follows from it:
 *
 * - ok or error: the record, the chained `result.ok` / `result.error` event
 *   and the acknowledgement;
 * - failed with retries left: the record and the item handed back for a
 *   retry after an exponential backoff;
 * - failed for the last time: the record, the chained `result.error` event
 *   and the item moved to its queue's dead letters.
 *
 * An event is thus either untouched (and delivered again after its lease)
 * or fully handled. Outcomes of a lane are committed in small batches.
 */
import {
  type DurableQueue,
  type Logger,
  monotonicId,
  type QueuedItem,
} from "../../goico/mod.ts";
import type { Definitions, EventRoute } from "../ctl/definitions.ts";
import type { ResultDef } from "../ctl/job_package.ts";
import type { PackageVersion } from "../ctl/package_store.ts";
import {
  DEFAULT_LIMITS,
  effectiveLimits,
  type Limits,
} from "../ctl/runtime_limits.ts";
import { queueName } from "../keys.ts";
import type { EventItem } from "../queue/event_item.ts";
import type { Execution } from "../recorder/execution.ts";
import type {
  ExecutionStore,
  FittedExecution,
} from "../recorder/execution_store.ts";
import type {
  JobicoletRunner,
  RunJob,
  RunOutcome,
} from "./jobicolet_runner.ts";
import {
  type ExecutionObserver,
  silentObserver,
} from "../observe/execution_observer.ts";
import { describeSchemaError } from "../repo/describe_schema_error.ts";
import {
  PatternWorkError,
  withPatternDeadline,
} from "../repo/linear_regexp.ts";
import { TenantSlots } from "./tenant_slots.ts";

export interface ExecutorOptions {
  kv: Deno.Kv;
  queue: DurableQueue<EventItem>;
  definitions: Definitions;
  executions: ExecutionStore;
  runner: JobicoletRunner;
  logger: Logger;
  /** Limits of runtimes that declare none. Default `DEFAULT_LIMITS`. */
  limits?: Limits;
  /** Sandbox Workers one tenant may hold at once. Default 1. */
  tenantConcurrency?: number;
  /** The first retry's delay; each next one doubles it. Default 1 s. */
  retryBaseMs?: number;
  /** Items leased at once per queue. Default 64. */
  batch?: number;
  /** How often expired leases are put back. Default 1 s. */
  recoverEveryMs?: number;
  /** How often due retries are put back. Default 100 ms. */
  promoteEveryMs?: number;
  /** Told of each execution once recorded (metrics, traces). Default: nobody. */
  observer?: ExecutionObserver;
  now?: () => number;
}

/** An item ready to run. */
interface Prepared {
  v: PackageVersion | null;
  route: EventRoute | null;
  limits: Limits;
  job: RunJob;
}

/** One outcome waiting to be committed. */
interface Done {
  item: QueuedItem<EventItem>;
  exec: FittedExecution;
  chained: { queue: string; item: EventItem } | null;
  next: { kind: "ack" } | { kind: "retry"; delayMs: number } | {
    kind: "dead";
  };
  bytes: number;
}

/** Commit at most this many outcomes, or bytes of them, in one atomic. */
const FLUSH_COUNT = 40;
const FLUSH_BYTES = 400_000;
/** Commit outcomes that waited this long while the next items run. */
const FLUSH_AFTER_MS = 15;

const encoder = new TextEncoder();

export class Executor {
  readonly #draining = new Map<string, Promise<void>>();
  readonly #o: Required<Omit<ExecutorOptions, "now">> & { now: () => number };
  readonly #slots: TenantSlots;
  /** Executions recorded since start. */
  executed = 0;

  constructor(options: ExecutorOptions) {
    this.#o = {
      batch: 64,
      recoverEveryMs: 1000,
      promoteEveryMs: 100,
      limits: DEFAULT_LIMITS,
      tenantConcurrency: 1,
      retryBaseMs: 1000,
      observer: silentObserver,
      now: Date.now,
      ...options,
    };
    this.#slots = new TenantSlots(this.#o.tenantConcurrency);
  }

  /** Runs until `signal` aborts, then waits for the executions under way. */
  async run(signal: AbortSignal): Promise<void> {
    const { queue, logger } = this.#o;
    const every = (ms: number, what: string, fn: () => Promise<unknown>) =>
      setInterval(() => {
        fn().catch((err) => logger.error(what, { error: String(err) }));
      }, ms);
    await queue.recoverExpired().catch((err) =>
      logger.error("recovering leases failed", { error: String(err) })
    );
    const timers = [
      every(
        this.#o.recoverEveryMs,
        "recovering leases failed",
        () => queue.recoverExpired(),
      ),
      every(
        this.#o.promoteEveryMs,
        "putting back due retries failed",
        () => queue.promoteDue(),
      ),
    ];
    try {
      for await (const _ of queue.feed.changes(signal)) {
        for (const name of await queue.activeQueues()) {
          this.#drain(name, signal);
        }
      }
    } finally {
      timers.forEach(clearInterval);
      await Promise.allSettled([...this.#draining.values()]);
    }
  }

  /** Starts draining a queue unless it is being drained already. */
  #drain(name: string, signal: AbortSignal): void {
    if (this.#draining.has(name)) return;
    const p = (async () => {
      try {
        let empty = 0;
        while (!signal.aborted) {
          const items = await this.#o.queue.lease(name, this.#o.batch);
          if (items.length === 0) {
            if (await this.#o.queue.retireIfEmpty(name)) break;
            // An append raced with the lease: lease again at once. Items still
            // held after that are in flight elsewhere: look again shortly.
            if (empty++ > 0) await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          empty = 0;
          await this.#work(name, items, signal);
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

  /** Executes a leased batch in order, committing outcomes as they pile up. */
  async #work(
    name: string,
    items: QueuedItem<EventItem>[],
    signal: AbortSignal,
  ): Promise<void> {
    // Keep the leases alive while the batch is worked on; a crash lets them lapse.
    const held = new Set(items);
    const renewal = setInterval(() => {
      this.#o.queue.renew([...held]).catch((err) =>
        this.#o.logger.warn("renewing leases failed", {
          queue: name,
          error: String(err),
        })
      );
    }, Math.max(50, this.#o.queue.leaseMs / 3));
    // Outcomes are committed in the background, in order, while the next
    // items run: after FLUSH_AFTER_MS, or sooner when enough piled up.
    let done: Promise<Done>[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let committed = Promise.resolve();
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      if (done.length === 0) return;
      const batch = done;
      done = [];
      committed = committed
        .then(async () => {
          const ready = await Promise.all(batch);
          await this.#commit(ready);
          ready.forEach((d) => held.delete(d.item));
        })
        .catch((err) =>
          this.#o.logger.error("recording executions failed", {
            queue: name,
            error: String(err),
          })
        );
    };
    const push = (d: Promise<Done>) => {
      done.push(d);
      if (done.length === 1) timer = setTimeout(flush, FLUSH_AFTER_MS);
      if (done.length >= FLUSH_COUNT) flush();
    };
    try {
      // The items of a queue belong to one tenant. They go to one sandbox
      // Worker together; after a timeout the rest go again.
      const prepared = await Promise.all(items.map((it) => this.#prepare(it)));
      let from = 0;
      while (from < items.length && !signal.aborted) {
        const release = await this.#slots.acquire(items[from].value.tenant);
        let last = performance.now();
        let lastWall = this.#o.now();
        const base = from;
        const { ran, settled } = await this.#o.runner.runBatch(
          prepared.slice(base).map((p) => p.job),
          (i, outcome) => {
            const now = performance.now();
            push(this.#finish(items[base + i], prepared[base + i], outcome, {
              startedAt: lastWall,
              durationMs: now - last,
            }));
            last = now;
            lastWall = this.#o.now();
          },
        );
        // A timed-out module keeps its Worker (and its tenant's slot) until it stops.
        settled.finally(release);
        from += ran;
      }
      flush();
      await committed;
    } finally {
      clearTimeout(timer);
      clearInterval(renewal);
    }
  }

  /**
   * Commits outcomes in atomics of at most FLUSH_BYTES; one by one when one
   * is refused.
   */
  async #commit(all: Done[]): Promise<void> {
    let start = 0;
    while (start < all.length) {
      let end = start + 1;
      let bytes = all[start].bytes;
      while (end < all.length && bytes + all[end].bytes <= FLUSH_BYTES) {
        bytes += all[end++].bytes;
      }
      await this.#commitOne(all.slice(start, end));
      start = end;
    }
  }

  async #commitOne(batch: Done[]): Promise<void> {
    if (batch.length === 0) return;
    const op = this.#o.kv.atomic();
    for (const d of batch) this.#write(op, d);
    let ok = false;
    try {
      ok = (await op.commit()).ok;
    } catch (err) {
      if (batch.length === 1) {
        this.#o.logger.error("recording an execution failed", {
          eventId: batch[0].item.value.eventId,
          error: String(err),
        });
      }
    }
    if (ok) {
      this.executed += batch.length;
      for (const d of batch) {
        this.#o.observer.recorded(d.exec.record, d.item.value, d.next.kind);
      }
      return;
    }
    if (batch.length > 1) {
      for (const d of batch) await this.#commitOne([d]);
      return;
    }
    this.#o.logger.error(
      "recording an execution failed; the event will be delivered again",
      { eventId: batch[0].item.value.eventId },
    );
  }

  #write(op: Deno.AtomicOperation, d: Done): void {
    const { queue, executions } = this.#o;
    if (d.chained) {
      queue.append(op, d.chained.queue, [{
        id: d.chained.item.eventId,
        value: d.chained.item,
      }]);
    }
    executions.record(op, d.exec);
    const { error, id } = d.exec.record;
    if (d.next.kind === "ack") queue.ack(op, d.item);
    else if (d.next.kind === "retry") {
      queue.retry(op, d.item, d.next.delayMs);
    } else queue.deadLetter(op, d.item, error ?? "failed", id);
  }

  /** What running an item needs: its package version, route, limits and job. */
  async #prepare(item: QueuedItem<EventItem>): Promise<Prepared> {
    const { definitions } = this.#o;
    const ev = item.value;
    const v = await definitions.version(ev.tenant, ev.package, ev.version);
    const route = v ? await definitions.routeIn(v, ev.event) : null;
    const runtime = v && route
      ? v.package.runtimes.find((r) => r.id === route.event.runtime)
      : undefined;
    const limits = effectiveLimits(runtime, this.#o.limits);
    const sha = v && runtime ? v.files[runtime.moduleref] : undefined;
    const job: RunJob = !v || !route
      ? {
        failure:
          `Package "${ev.package}" version ${ev.version} no longer declares event "${ev.event}" (was the package deleted?)`,
      }
      : !runtime || !sha
      ? {
        failure:
          `Runtime "${route.event.runtime}" of event "${ev.event}" has no module`,
      }
      : {
        sha256: sha,
        mainFunction: runtime.mainfuncname || "event",
        input: encoder.encode(JSON.stringify(ev.data)),
        limits,
      };
    return { v, route, limits, job };
  }

  /** Records an outcome and decides what follows from it. */
  async #finish(
    item: QueuedItem<EventItem>,
    { v, route, limits }: Prepared,
    outcome: RunOutcome,
    timing: { startedAt: number; durationMs: number },
  ): Promise<Done> {
    const ev = item.value;
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
      startedAt: new Date(timing.startedAt).toISOString(),
      durationMs: Math.round(timing.durationMs * 1000) / 1000,
    };
    let next: Done["next"] = { kind: "ack" };
    if (exec.status === "failed") {
      const failures = item.failures ?? 0;
      if (failures < limits.retries) {
        const delayMs = this.#o.retryBaseMs * 2 ** failures;
        next = { kind: "retry", delayMs };
        exec.logs.push({
          level: "warn",
          source: "host",
          message: `Retrying in ${delayMs} ms (retry ${
            failures + 1
          } of ${limits.retries})`,
        });
      } else {
        next = { kind: "dead" };
        const n = failures + 1;
        exec.logs.push({
          level: "error",
          source: "host",
          message:
            `Moved to the dead letters of queue "${exec.queue}" after ${n} failed attempt${
              n === 1 ? "" : "s"
            }`,
        });
      }
    }
    const chained = v && route?.job && next.kind !== "retry"
      ? await this.#chain(v, route.job.result, exec, ev.trace)
      : null;
    const fitted = this.#o.executions.fit(exec);
    const bytes = fitted.bytes +
      (chained ? JSON.stringify(chained.item).length : 0);
    return { item, exec: fitted, chained, next, bytes };
  }

  /** The chained result event, validated against its schema; null when there is none. */
  async #chain(
    v: PackageVersion,
    result: ResultDef | undefined,
    exec: Execution,
    trace: string | undefined,
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
    let valid: boolean;
    let why = "";
    try {
      valid = withPatternDeadline(250, () => route.validate(data) as boolean);
    } catch (err) {
      if (!(err instanceof PatternWorkError)) throw err;
      valid = false;
      why = err.message;
    }
    if (!valid) {
      why ||= (route.validate.errors ?? []).map((e) => {
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
        // The chained event continues the trace of the one that made it.
        ...(trace && { trace }),
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
