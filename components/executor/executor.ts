/**
 * The executor: drains every queue in order (one lane per queue, so events
 * of a queue run in the order they were accepted; lanes of different queues
 * run in parallel on the sandbox pool, at most `tenantConcurrency` per
 * tenant in this process, and under the packages' concurrency limits across
 * processes: see concurrency_gates.ts), runs each event through its Jobicolet under its runtime's
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
  MAX_ITEM_BYTES,
  monotonicId,
  type QueuedItem,
  type StoreHealth,
  withDefaults,
} from "@jobico/goico";
import type { Definitions, EventRoute } from "../packages/definitions.ts";
import type { ResultDef } from "../model/job_package.ts";
import type { PackageVersion } from "../packages/package_store.ts";
import {
  DEFAULT_LIMITS,
  effectiveLimits,
  type Limits,
} from "../model/runtime_limits.ts";
import { queueRefOf, queueStorageName } from "../model/queue_ref.ts";
import type { ChainedFrom, EventItem } from "../model/event_item.ts";
import type { Execution } from "../executions/execution.ts";
import type { ExecutionStore } from "../executions/execution_store.ts";
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
import { Lane, LeaseLostError } from "./_lane.ts";
import { type Outcome, OutcomeWriter } from "./outcome_writer.ts";
import { transient } from "./_store_retry.ts";
import { TenantSlots } from "./tenant_slots.ts";
import { ConcurrencyGates } from "./concurrency_gates.ts";

/**
 * What an {@linkcode Executor} works with (the queue, the definitions, the
 * store of executions, the runner) and how it paces itself.
 *
 * @example
 * ```ts
 * const executor = new Executor({
 *   kv,
 *   queue,
 *   definitions,
 *   executions,
 *   runner: new JobicoletRunner((sha) => repo.bytes(sha), { pool }),
 *   logger,
 *   tenantConcurrency: 2,
 * });
 * await executor.run(shutdown.signal);
 * ```
 */
export interface ExecutorOptions {
  /** The store the queue, the executions and the version pins live in. */
  kv: Deno.Kv;
  /** The events to run, in order per queue. */
  queue: DurableQueue<EventItem>;
  /** The deployed packages: which Jobicolet an event runs, and its limits. */
  definitions: Definitions;
  /** Where executions are recorded. */
  executions: ExecutionStore;
  /** Runs a Jobicolet in the sandbox. */
  runner: JobicoletRunner;
  /** Gets what goes wrong in the background. */
  logger: Logger;
  /**
   * Limits of runtimes that declare none.
   *
   * @default {DEFAULT_LIMITS}
   */
  limits?: Limits;
  /**
   * Sandbox Workers one tenant may hold at once.
   *
   * @default {1}
   */
  tenantConcurrency?: number;
  /**
   * A tenant's `maxConcurrency` (its policy's quotas; 0: no limit): its
   * executions at once across every process of the store, held by a gate
   * in the store (concurrency_gates.ts), unlike `tenantConcurrency`.
   *
   * @default none: no tenant has a limit
   */
  tenantLimit?: (tenant: string) => Promise<number>;
  /**
   * The first retry's delay, in ms; each next one doubles it.
   *
   * @default {1000}
   */
  retryBaseMs?: number;
  /**
   * At most this many items of a queue leased and not yet run (a lease
   * checks each item, and an atomic checks at most 100 keys).
   *
   * @default {100}
   */
  batch?: number;
  /**
   * How often expired leases are put back, in ms.
   *
   * @default {1000}
   */
  recoverEveryMs?: number;
  /**
   * How often due retries are put back, in ms.
   *
   * @default {100}
   */
  promoteEveryMs?: number;
  /**
   * Told of each execution once recorded (metrics, traces).
   *
   * @default {silentObserver}
   */
  observer?: ExecutionObserver;
  /**
   * On shutdown, how long executions under way may take to finish before
   * they are stopped (their events run again after the restart, with no
   * attempt counted), in ms.
   *
   * @default {10000}
   */
  shutdownGraceMs?: number;
  /**
   * Told of store failures (a full disk), which make the executor back off.
   *
   * @default {undefined}
   */
  storeHealth?: StoreHealth;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

/** An item ready to run. */
interface Prepared {
  /** Its tenant is being deleted: it is dropped, not run (tenant_deletion.ts). */
  drop?: boolean;
  v: PackageVersion | null;
  route: EventRoute | null;
  limits: Limits;
  job: RunJob;
}

const encoder = new TextEncoder();

/** Whether an item's crashes used up its retries (it is not run again). */
function crashedOut(item: QueuedItem<EventItem>, limits: Limits): boolean {
  return (item.crashes ?? 0) > 0 && item.failures > limits.retries;
}

const times = (n: number) => n === 1 ? "once" : `${n} times`;

export class Executor {
  /** Each queue's pace (ms per item), kept from one lane of it to the next. */
  readonly #paces = new Map<string, { msPerItem: number }>();
  readonly #lanes = new Map<
    string,
    { lane: Lane<Outcome>; done: Promise<void>; stamp: string }
  >();
  readonly #o:
    & Required<Omit<ExecutorOptions, "now" | "storeHealth" | "tenantLimit">>
    & Pick<ExecutorOptions, "storeHealth" | "tenantLimit">
    & { now: () => number };
  readonly #slots: TenantSlots;
  /** Items that run alone wait here for the one before (see `#execute`). */
  #probationTail: Promise<void> = Promise.resolve();
  /** Stores the outcomes (lanes commit them). */
  readonly #writer: OutcomeWriter;
  /** The packages' concurrency limits, on the store (lanes lease under them). */
  readonly #gates: ConcurrencyGates;

  /** Executions recorded since start. */
  get executed(): number {
    return this.#writer.recordedCount;
  }

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
        shutdownGraceMs: 10_000,
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
    this.#gates = new ConcurrencyGates(
      this.#o.definitions,
      this.#o.queue,
      this.#o.tenantLimit,
    );
    const { kv, queue, executions, logger, observer, storeHealth } = this.#o;
    this.#writer = new OutcomeWriter({
      kv,
      queue,
      executions,
      logger,
      observer,
      ...(storeHealth && { storeHealth }),
    });
  }

  /** Runs until `signal` aborts, then waits for the executions under way. */
  async run(signal: AbortSignal): Promise<void> {
    const { queue, logger } = this.#o;
    // Each chore runs every `ms`; while the store fails, up to 50 times
    // slower (at most 5 s apart), so a full disk is not retried in a loop.
    const timers: ReturnType<typeof setTimeout>[] = [];
    const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
      let backoff = ms;
      const slot = timers.length;
      const tick = async () => {
        try {
          await fn();
          backoff = ms;
        } catch (err) {
          if (this.#writer.storeFailed(err)) {
            backoff = Math.min(Math.max(ms * 50, 5_000), backoff * 2);
          } else logger.error(what, { error: String(err) });
        }
        if (!signal.aborted) timers[slot] = setTimeout(tick, backoff);
      };
      timers.push(setTimeout(tick, ms));
    };
    await queue.recoverExpired().catch((err) => {
      if (!this.#writer.storeFailed(err)) {
        logger.error("recovering leases failed", { error: String(err) });
      }
    });
    every(
      this.#o.recoverEveryMs,
      "recovering leases failed",
      () => queue.recoverExpired(),
    );
    every(
      this.#o.promoteEveryMs,
      "putting back due retries failed",
      () => queue.promoteDue(),
    );
    try {
      for await (const _ of queue.feed.changes(signal)) {
        // Queues whose marker changed got items: their lanes look again,
        // and queues without a lane get one.
        for (const [name, stamp] of await queue.activity()) {
          this.#drain(name, stamp, signal);
        }
      }
    } finally {
      timers.forEach(clearTimeout);
      // What runs gets the grace period to finish; then it is stopped, at
      // the module's next slice of fuel, and its events go back.
      const grace = setTimeout(
        () => this.#o.runner.cancelAll(),
        this.#o.shutdownGraceMs,
      );
      await Promise.allSettled([...this.#lanes.values()].map((l) => l.done));
      clearTimeout(grace);
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
    const lane = new Lane<Outcome>({
      name,
      kv: this.#o.kv,
      queue: this.#o.queue,
      logger: this.#o.logger,
      signal,
      maxBatch: this.#o.batch,
      pace: this.#paces.get(name) ??
        this.#paces.set(name, { msPerItem: 0 }).get(name),
      execute: (items, emit) => this.#execute(items, signal, emit),
      writer: this.#writer,
      gates: this.#gates,
    });
    const done = lane.run().finally(() => this.#lanes.delete(name));
    this.#lanes.set(name, { lane, done, stamp });
  }

  /**
   * Runs leased items in order in the sandbox and hands each outcome on as
   * soon as it is known; returns how many ran (fewer when `signal` aborts).
   *
   * An item whose lease expired before (its process died or stalled with
   * it) may be what stopped the process: it runs alone, one such item at a
   * time in this process, after the queue marked it started, so that if
   * the process stops again the queue knows it was running it (see "Crash
   * loops" in goico/durable_queue.ts).
   */
  async #execute(
    items: QueuedItem<EventItem>[],
    signal: AbortSignal,
    emit: (item: QueuedItem<EventItem>, done: Promise<Outcome>) => void,
  ): Promise<number> {
    // The items of a queue belong to one tenant. They go to one sandbox
    // Worker together; after a timeout the rest go again.
    const prepared = await Promise.all(items.map((it) => this.#prepare(it)));
    const alone = (i: number) =>
      suspect(items[i]) && !("failure" in prepared[i].job);
    let from = 0;
    while (from < items.length && !signal.aborted) {
      const base = from;
      let end = base + 1;
      let unlock = () => {};
      if (alone(base)) {
        unlock = await this.#probation();
        const item = items[base];
        let started: boolean | Error;
        try {
          started = await transient(() => this.#o.queue.start(item));
        } catch (err) {
          started = err as Error;
        }
        if (started !== true) {
          // Not run: it comes back after its lease (the store failed), or
          // runs elsewhere (its lease was taken back).
          unlock();
          emit(
            item,
            Promise.reject(
              started === false
                ? new LeaseLostError(
                  `The lease of event "${item.value.eventId}" was taken back before it ran`,
                )
                : started,
            ),
          );
          from++;
          continue;
        }
      } else {
        while (end < items.length && !alone(end)) end++;
      }
      const release = await this.#slots.acquire(items[base].value.tenant);
      let last = performance.now();
      let lastWall = this.#o.now();
      let ran = 0;
      let settled = Promise.resolve();
      try {
        const batch = await this.#o.runner.runBatch(
          prepared.slice(base, end).map((p) => p.job),
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
        ran = batch.ran;
        settled = batch.settled;
      } finally {
        // A timed-out module keeps its Worker (and its tenant's slot) until it stops.
        settled.finally(release);
        unlock();
      }
      from += ran;
    }
    return from;
  }

  /** Waits for this process's turn to run an item alone; resolves to the release. */
  async #probation(): Promise<() => void> {
    const before = this.#probationTail;
    let unlock!: () => void;
    this.#probationTail = new Promise<void>((r) => unlock = r);
    await before;
    return unlock;
  }

  /** What running an item needs: its package version, route, limits and job. */
  async #prepare(item: QueuedItem<EventItem>): Promise<Prepared> {
    const { definitions } = this.#o;
    const ev = item.value;
    if (await definitions.isDeleting(ev.tenant)) {
      return {
        drop: true,
        v: null,
        route: null,
        limits: this.#o.limits,
        job: { failure: `Tenant "${ev.tenant}" is being deleted` },
      };
    }
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
      : crashedOut(item, limits)
      ? {
        failure: `Not run again: the process running this event stopped ${
          times(item.crashes ?? 0)
        } while it ran (${item.failures} failed attempts; ${limits.retries} ${
          limits.retries === 1 ? "retry" : "retries"
        } allowed)`,
      }
      : {
        tenant: ev.tenant,
        sha256: sha,
        mainFunction: runtime.mainfuncname || "event",
        // An array of its own, not goico's encodeUtf8: the input stays
        // referenced for as long as its batch runs, and a view would keep
        // a whole 64 KiB chunk alive meanwhile.
        input: encoder.encode(JSON.stringify(ev.data)),
        limits,
      };
    return { v, route, limits, job };
  }

  /** Records an outcome and decides what follows from it. */
  async #finish(
    item: QueuedItem<EventItem>,
    { v, route, limits, drop }: Prepared,
    outcome: RunOutcome,
    timing: { startedAt: number; durationMs: number },
  ): Promise<Outcome> {
    const ev = item.value;
    const exec: Execution = {
      id: monotonicId(),
      eventId: ev.eventId,
      tenant: ev.tenant,
      package: ev.package,
      version: ev.version,
      event: ev.event,
      queue: queueRefOf(item.queue).queue,
      status: outcome.status,
      code: outcome.code,
      result: outcome.result,
      error: outcome.error,
      logs: outcome.logs,
      attempt: item.attempt,
      startedAt: new Date(timing.startedAt).toISOString(),
      durationMs: Math.round(timing.durationMs * 1000) / 1000,
      ...(ev.chainedFrom && { chainedFrom: ev.chainedFrom }),
      input: ev.data,
      ...(ev.rerunOf && { rerunOf: ev.rerunOf }),
    };
    if (drop) {
      // Not run, not recorded: its in-flight record goes (one delete).
      const fitted = this.#o.executions.fit(exec);
      return {
        item,
        exec: fitted,
        chained: null,
        next: { kind: "drop" },
      };
    }
    let next: Outcome["next"] = { kind: "ack" };
    const crashes = item.crashes ?? 0;
    const ofThem = crashes > 0
      ? ` (${crashes} of them stopped the process running it)`
      : "";
    if (crashedOut(item, limits)) {
      // Its crashes used up its retries: it was not run (see `#prepare`).
      next = { kind: "dead" };
      exec.logs.push({
        level: "error",
        source: "host",
        message:
          `Moved to the dead letters of queue "${exec.queue}" after ${item.failures} failed attempts${ofThem}`,
      });
    } else if (exec.status === "failed") {
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
            }${ofThem}`,
        });
      }
    }
    let chained = v && route?.job && next.kind !== "retry"
      ? await this.#chain(v, route.job.result, exec, ev.trace)
      : null;
    const chainedBytes = chained
      ? this.#o.queue.itemBytes(chained.queue, {
        id: chained.item.eventId,
        value: chained.item,
      })
      : 0;
    if (chainedBytes > MAX_ITEM_BYTES) {
      // It could never be queued: a failure, and no retry would change it.
      const target = chained!.item.event;
      exec.status = "failed";
      exec.error =
        `Result event "${target}" cannot be sent: it takes ${chainedBytes} bytes, more than the ${MAX_ITEM_BYTES} a queued event may hold (the result is ${
          exec.result?.length ?? 0
        } characters)`;
      exec.logs.push({
        level: "error",
        source: "host",
        message:
          `Moved to the dead letters of queue "${exec.queue}": its result event cannot be sent`,
      });
      next = { kind: "dead" };
      chained = null;
    }
    const fitted = this.#o.executions.fit(exec);
    return { item, exec: fitted, chained, next };
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
    const chainedFrom: ChainedFrom = {
      event: exec.event,
      eventId: exec.eventId,
      executionId: exec.id,
      code: exec.code,
      ...(exec.error ? { error: exec.error } : {}),
    };
    // Absent only in versions deployed before `item` existed: the envelope.
    const envelope = (result?.item ?? "envelope") === "envelope";
    const data = envelope
      ? {
        code: exec.code,
        result: parseMaybeJson(exec.result),
        ...(exec.error ? { error: exec.error } : {}),
        source: {
          event: exec.event,
          eventId: exec.eventId,
          executionId: exec.id,
        },
      }
      : exec.result !== null
      ? parseMaybeJson(exec.result)
      // A failed execution returned nothing: its reason is the item.
      : exec.error ?? "";
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
        message: `Result event "${target.id}" not sent: ${
          envelope
            ? "the envelope {code, result, source}"
            : exec.result !== null
            ? "the result"
            : "the failure's reason (a string)"
        } does not match schema "${route.event.schema.schemaref}": ${why}`,
      });
      return null;
    }
    return {
      queue: queueStorageName({
        tenant: exec.tenant,
        queue: target.supplierqueue,
      }),
      item: {
        tenant: exec.tenant,
        package: v.id,
        version: v.version,
        event: target.id,
        eventId,
        data,
        chainedFrom,
        // The chained event continues the trace of the one that made it.
        ...(trace && { trace }),
        // Its own event's priority (the webhook's `?priority=` is the
        // request's, not the chain's).
        ...(target.priority && target.priority !== "normal" &&
          { priority: target.priority }),
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

/** An item whose lease expired before, or that stopped its process before. */
function suspect(item: QueuedItem<EventItem>): boolean {
  return (item.lapses ?? 0) > 0 || (item.crashes ?? 0) > 0;
}
