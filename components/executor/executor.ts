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
 * or fully handled. A lane (see `_lane.ts`) overlaps its waits: while a
 * batch runs, the outcomes of the one before are committed in the same
 * atomic that leases the next one.
 */
import {
  type DurableQueue,
  type Logger,
  monotonicId,
  type QueuedItem,
  withDefaults,
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
import { Lane, SHARED_MUTATIONS } from "./_lane.ts";
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
  /**
   * At most this many items of a queue leased and not yet run (a lease
   * checks each item, and an atomic checks at most 100 keys). Default 100.
   */
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
  /** Mutations of its own (see `#write`); the counters it shares come on top. */
  mutations: number;
}

/**
 * Outcomes committed on their own (when a lease beside them was refused) go
 * at most this many, or bytes of them, in one atomic.
 */
const FLUSH_MUTATIONS = 1000 - SHARED_MUTATIONS;
const FLUSH_BYTES = 400_000;

const encoder = new TextEncoder();

export class Executor {
  /** Each queue's pace (ms per item), kept from one lane of it to the next. */
  readonly #paces = new Map<string, { msPerItem: number }>();
  readonly #lanes = new Map<
    string,
    { lane: Lane<Done>; done: Promise<void>; stamp: string }
  >();
  readonly #o: Required<Omit<ExecutorOptions, "now">> & { now: () => number };
  readonly #slots: TenantSlots;
  /** Executions recorded since start. */
  executed = 0;

  constructor(options: ExecutorOptions) {
    // Not `{...DEFAULTS, ...options}`: an option given as undefined (the
    // platform passes `retryBaseMs: options.retryBaseMs` whether it is set
    // or not) keeps its default.
    this.#o = {
      ...options,
      ...withDefaults({
        batch: 100,
        recoverEveryMs: 1000,
        promoteEveryMs: 100,
        limits: DEFAULT_LIMITS as Limits,
        tenantConcurrency: 1,
        retryBaseMs: 1000,
        observer: silentObserver as ExecutionObserver,
        now: Date.now as () => number,
      }, options),
    };
    for (
      const name of [
        "batch",
        "recoverEveryMs",
        "promoteEveryMs",
        "tenantConcurrency",
        "retryBaseMs",
      ] as const
    ) {
      const v = this.#o[name];
      if (!Number.isFinite(v) || v < (name === "retryBaseMs" ? 0 : 1)) {
        throw new RangeError(
          `Invalid executor option ${name} ${v}: use a finite number of at least ${
            name === "retryBaseMs" ? 0 : 1
          }`,
        );
      }
    }
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
        // Queues whose marker changed got items: their lanes look again,
        // and queues without a lane get one.
        for (const [name, stamp] of await queue.activity()) {
          this.#drain(name, stamp, signal);
        }
      }
    } finally {
      timers.forEach(clearInterval);
      await Promise.allSettled([...this.#lanes.values()].map((l) => l.done));
    }
  }

  /**
   * Starts draining a queue, or tells its lane that items came when the
   * queue's marker changed (`stamp`).
   */
  #drain(name: string, stamp: string, signal: AbortSignal): void {
    const running = this.#lanes.get(name);
    if (running) {
      // A lane that is retiring takes no more work: the next one starts after it.
      if (running.lane.stopped) {
        running.done.then(() =>
          !signal.aborted && this.#drain(name, stamp, signal)
        );
      } else if (running.stamp !== stamp) {
        running.stamp = stamp;
        running.lane.poke();
      }
      return;
    }
    const lane = new Lane<Done>({
      name,
      kv: this.#o.kv,
      queue: this.#o.queue,
      logger: this.#o.logger,
      signal,
      maxBatch: this.#o.batch,
      pace: this.#paces.get(name) ??
        this.#paces.set(name, { msPerItem: 0 }).get(name),
      execute: (items, emit) => this.#execute(items, signal, emit),
      write: (op, d) => this.#write(op, d),
      commit: (ds) => this.#commit(ds),
      recorded: (ds) => this.#recorded(ds),
    });
    const done = lane.run().finally(() => this.#lanes.delete(name));
    this.#lanes.set(name, { lane, done, stamp });
  }

  /**
   * Runs leased items in order in the sandbox and hands each outcome on as
   * soon as it is known; returns how many ran (fewer when `signal` aborts).
   */
  async #execute(
    items: QueuedItem<EventItem>[],
    signal: AbortSignal,
    emit: (item: QueuedItem<EventItem>, done: Promise<Done>) => void,
  ): Promise<number> {
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
          const item = items[base + i];
          emit(
            item,
            this.#finish(item, prepared[base + i], outcome, {
              startedAt: lastWall,
              durationMs: now - last,
            }),
          );
          last = now;
          lastWall = this.#o.now();
        },
      );
      // A timed-out module keeps its Worker (and its tenant's slot) until it stops.
      settled.finally(release);
      from += ran;
    }
    return from;
  }

  /**
   * Commits outcomes in atomics of at most FLUSH_MUTATIONS and FLUSH_BYTES;
   * one by one when one is refused.
   */
  async #commit(all: Done[]): Promise<void> {
    let start = 0;
    while (start < all.length) {
      let end = start + 1;
      let bytes = all[start].bytes;
      let mutations = all[start].mutations;
      while (
        end < all.length &&
        mutations + all[end].mutations <= FLUSH_MUTATIONS &&
        bytes + all[end].bytes <= FLUSH_BYTES
      ) {
        mutations += all[end].mutations;
        bytes += all[end++].bytes;
      }
      await this.#commitOne(all.slice(start, end));
      start = end;
    }
  }

  async #commitOne(batch: Done[]): Promise<void> {
    if (batch.length === 0) return;
    const op = this.#o.kv.atomic();
    this.#write(op, batch);
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
      this.#recorded(batch);
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

  /** Outcomes whose commit succeeded. */
  #recorded(batch: Done[]): void {
    this.executed += batch.length;
    for (const d of batch) {
      this.#o.observer.recorded(d.exec.record, d.item.value, d.next.kind);
    }
  }

  /**
   * Adds the writes that record outcomes to an atomic operation: each
   * record, chained event and acknowledgement (or retry, or dead letter),
   * with the counters and change feeds they share written once.
   */
  #write(op: Deno.AtomicOperation, batch: Done[]): void {
    const { queue, executions } = this.#o;
    const chained = new Map<string, { id: string; value: EventItem }[]>();
    const acked: QueuedItem<EventItem>[] = [];
    for (const d of batch) {
      if (d.chained) {
        const list = chained.get(d.chained.queue) ??
          chained.set(d.chained.queue, []).get(d.chained.queue)!;
        list.push({ id: d.chained.item.eventId, value: d.chained.item });
      }
      const { error, id } = d.exec.record;
      if (d.next.kind === "ack") acked.push(d.item);
      else if (d.next.kind === "retry") {
        queue.retry(op, d.item, d.next.delayMs);
      } else queue.deadLetter(op, d.item, error ?? "failed", id);
    }
    for (const [name, items] of chained) queue.append(op, name, items);
    executions.recordAll(op, batch.map((d) => d.exec));
    queue.ackAll(op, acked);
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
    // The record, the chained event, and the ack (a delete), retry (a
    // delete and a set) or dead letter (a delete, a set and two sums).
    const mutations = 1 + (chained ? 1 : 0) +
      (next.kind === "ack" ? 1 : next.kind === "retry" ? 2 : 4);
    return { item, exec: fitted, chained, next, bytes, mutations };
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
    // Drawn before the first await: outcomes come in queue order, and so
    // must the ids of their chained events (which order the next queue),
    // whatever order the lookups below finish in.
    const eventId = monotonicId();
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
