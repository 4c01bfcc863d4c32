/**
 * Sends scheduled events: every event whose current package declares a
 * `schedule` is sent by the platform itself on each tick of its cron
 * pattern, exactly once per tick however many processes run a scheduler
 * on the same store.
 *
 * Exactly once comes from the store, not from a process: each schedule has
 * a cursor record (`keys.scheduleCursor`: the last tick sent), and a tick
 * is sent by one atomic write that checks the cursor is unchanged since it
 * was read, moves it to the tick, and appends the item to the event's
 * queue. Two processes that see the same tick both try; the store lets one
 * commit, and the other, refused, reads the cursor again and finds the tick
 * sent. The same write checks the package's head, so a schedule that a
 * deploy removed or changed is not sent from what a process knew before.
 *
 * Ticks missed while no scheduler ran (all processes down) are not sent one
 * by one: the latest of them is sent once, late, with its own
 * `scheduledAt`, and the others are counted as skipped in the log. A tick
 * that finds its queue full (`maxQueueDepth`) is skipped the same way, once.
 *
 * The scheduler reads the schedules of every current package when it
 * starts and again whenever the definition stream moves (a deploy, a
 * rollback, a delete), checking its position once per wake-up; a process
 * that does not share `kv.watch` with the deploying one (two processes on
 * one SQLite file) sees the change by that check.
 */
import {
  type DurableQueue,
  type Logger,
  monotonicId,
  silentLogger,
  WriteBatch,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import type { EventDef } from "../model/job_package.ts";
import { keys } from "../model/keys.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import {
  type CompiledSchedule,
  compileSchedule,
  DEFAULT_MIN_SCHEDULE_INTERVAL_MS,
  nextTick,
  scheduledItem,
} from "../model/schedule.ts";
import type { Definitions } from "../packages/definitions.ts";
import type { PackageHead, PackageStore } from "../packages/package_store.ts";
import { declaredEvents } from "../packages/package_store.ts";
import { PinDeltas } from "../packages/version_pins.ts";

/** What a schedule's cursor holds: the last tick sent (or skipped). */
export interface ScheduleCursor {
  cron: string;
  timezone?: string;
  /** The last tick handled, ms since the epoch. */
  last: number;
  /** Whether that tick's item was queued (false: skipped, the queue was full). */
  sent: boolean;
}

/**
 * What {@linkcode Scheduler} needs and how often it looks.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler({ kv, store, definitions, queue });
 * await scheduler.run(signal);
 * ```
 */
export interface SchedulerOptions {
  kv: Deno.Kv;
  store: PackageStore;
  /** For the package versions (cached) and tenants being deleted. */
  definitions: Definitions;
  queue: DurableQueue<EventItem>;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * The longest sleep between two looks, in ms: a tick is sent at most this
   * late (the scheduler also wakes at the next tick it knows of).
   *
   * @default {1000}
   */
  pollMs?: number;
  /**
   * The shortest time between two ticks of one schedule that are sent, in
   * ms: a guard at run time beside the deploy's check.
   *
   * @default {DEFAULT_MIN_SCHEDULE_INTERVAL_MS}
   */
  minIntervalMs?: number;
  /**
   * Items a queue may hold before a tick for it is skipped.
   *
   * @default {100000}
   */
  maxQueueDepth?: number;
  /**
   * Makes event ids.
   *
   * @default {monotonicId}
   */
  newId?: () => string;
  /**
   * Where sent and skipped ticks are reported.
   *
   * @default {silentLogger}
   */
  logger?: Logger;
}

/** One scheduled event as this process knows it. */
interface Entry {
  head: Deno.KvEntry<PackageHead>;
  event: EventDef;
  compiled: CompiledSchedule;
  /** The queue's storage name. */
  queue: string;
  /** The next tick to look at; null when it fires no more. */
  next: number | null;
}

/** What one look did (for tests and the log). */
export interface SchedulerPass {
  /** Ticks whose item this process queued. */
  sent: number;
  /** Ticks another process had handled first. */
  taken: number;
  /** Ticks passed over: missed while no scheduler ran, or a full queue. */
  skipped: number;
  /**
   * Schedules whose due tick could not be handled (the store was busy or
   * failed): tried again on the next look, nothing was written.
   */
  failed: number;
}

export class Scheduler {
  readonly #o: Required<Omit<SchedulerOptions, "logger">> & {
    logger: Logger;
  };
  #entries: Entry[] = [];
  /** The definition stream's position when the entries were read. */
  #loadedAt: bigint | null = null;

  constructor(options: SchedulerOptions) {
    this.#o = {
      kv: options.kv,
      store: options.store,
      definitions: options.definitions,
      queue: options.queue,
      now: options.now ?? Date.now,
      pollMs: options.pollMs ?? 1000,
      minIntervalMs: options.minIntervalMs ??
        DEFAULT_MIN_SCHEDULE_INTERVAL_MS,
      maxQueueDepth: options.maxQueueDepth ?? 100_000,
      newId: options.newId ?? monotonicId,
      logger: options.logger ?? silentLogger,
    };
  }

  /** How many schedules this process follows. */
  get size(): number {
    return this.#entries.length;
  }

  /** Reads the schedules of every current package (again). */
  async load(): Promise<void> {
    const { kv, definitions, now } = this.#o;
    const position = await this.#o.store.feed.position();
    const entries: Entry[] = [];
    for await (
      const head of kv.list<PackageHead>({ prefix: keys.allPackageHeads() })
    ) {
      const { tenant, id, version } = head.value;
      if (await definitions.isDeleting(tenant)) continue;
      const v = await definitions.version(tenant, id, version);
      if (!v) continue;
      for (const event of declaredEvents(v.package)) {
        if (!event.schedule) continue;
        let compiled: CompiledSchedule;
        try {
          compiled = compileSchedule(event.schedule);
        } catch (err) {
          // Checked at deploy; a time zone this runtime lacks lands here.
          this.#o.logger.warn("a schedule cannot be read", {
            tenant,
            event: event.id,
            error: String(err),
          });
          continue;
        }
        const cursor = (await kv.get<ScheduleCursor>(
          keys.scheduleCursor(tenant, event.id),
        )).value;
        const same = cursor && cursor.cron === event.schedule.cron &&
          cursor.timezone === event.schedule.timezone;
        entries.push({
          head,
          event,
          compiled,
          queue: queueStorageName({ tenant, queue: event.supplierqueue }),
          // A schedule seen for the first time (or changed) starts now;
          // one with a cursor goes on after its last tick.
          next: nextTick(compiled, same ? cursor.last : now()),
        });
      }
    }
    this.#entries = entries;
    this.#loadedAt = position;
  }

  /** Sends every tick that is due; reloads first when definitions changed. */
  async runDue(): Promise<SchedulerPass> {
    const position = await this.#o.store.feed.position();
    if (position !== this.#loadedAt) await this.load();
    const pass: SchedulerPass = { sent: 0, taken: 0, skipped: 0, failed: 0 };
    let stale = false;
    for (const entry of this.#entries) {
      if (entry.next === null || entry.next > this.#o.now()) continue;
      try {
        stale = (await this.#fire(entry, pass)) || stale;
      } catch (err) {
        // SQLite's "database is locked" with several processes on one
        // file, or a store that failed: nothing was written; next look.
        pass.failed++;
        this.#o.logger.warn("a scheduled tick was not sent yet", {
          tenant: entry.head.value.tenant,
          event: entry.event.id,
          error: String(err),
        });
      }
    }
    // A head changed under a tick: read the schedules again next time.
    if (stale) this.#loadedAt = null;
    return pass;
  }

  /** When the next known tick is due, ms since the epoch (null: none). */
  nextDue(): number | null {
    let min: number | null = null;
    for (const e of this.#entries) {
      if (e.next !== null && (min === null || e.next < min)) min = e.next;
    }
    return min;
  }

  /** Looks for due ticks until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger, pollMs, now } = this.#o;
    while (!signal.aborted) {
      try {
        const pass = await this.runDue();
        if (pass.sent + pass.skipped > 0) {
          logger.debug("scheduled events", { ...pass });
        }
      } catch (err) {
        logger.error("sending scheduled events failed", {
          error: String(err),
        });
      }
      const due = this.nextDue();
      const wait = Math.max(
        10,
        Math.min(pollMs, due === null ? pollMs : due - now()),
      );
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, wait);
        function done() {
          clearTimeout(t);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  /**
   * Handles the latest due tick of one schedule. Returns true when the
   * package's head changed (the entry is stale).
   */
  async #fire(entry: Entry, pass: SchedulerPass): Promise<boolean> {
    const { kv, queue, now, minIntervalMs } = this.#o;
    const { tenant, id: pkg } = entry.head.value;
    const cursorKey = keys.scheduleCursor(tenant, entry.event.id);
    const schedule = entry.event.schedule!;
    for (let tries = 0; tries < 3; tries++) {
      const at = now();
      // The latest tick at or before now; the ones between were missed.
      let tick = entry.next!;
      let missed = 0;
      for (let t = nextTick(entry.compiled, tick); t !== null && t <= at;) {
        tick = t;
        missed++;
        if (missed >= 10_000) {
          // A fast schedule missed for long: jump near now.
          const near = nextTick(entry.compiled, at - minIntervalMs);
          tick = near !== null && near <= at ? near : tick;
          break;
        }
        t = nextTick(entry.compiled, t);
      }
      const cursor = await kv.get<ScheduleCursor>(cursorKey);
      const same = cursor.value && cursor.value.cron === schedule.cron &&
        cursor.value.timezone === schedule.timezone;
      if (same && cursor.value!.last >= tick) {
        // Another process handled it.
        pass.taken++;
        entry.next = nextTick(entry.compiled, cursor.value!.last);
        return false;
      }
      if (same && tick - cursor.value!.last < minIntervalMs) {
        entry.next = nextTick(
          entry.compiled,
          cursor.value!.last + minIntervalMs - 1,
        );
        return false;
      }
      const full = (await queue.backlog(entry.queue)) >=
        this.#o.maxQueueDepth;
      const batch = new WriteBatch(kv).check(cursor, entry.head);
      batch.set(
        cursorKey,
        {
          cron: schedule.cron,
          ...(schedule.timezone !== undefined && {
            timezone: schedule.timezone,
          }),
          last: tick,
          sent: !full,
        } satisfies ScheduleCursor,
      );
      const item: EventItem = {
        tenant,
        package: pkg,
        version: entry.head.value.version,
        event: entry.event.id,
        eventId: this.#o.newId(),
        data: scheduledItem(schedule, tick),
      };
      if (!full) {
        queue.append(batch, entry.queue, [{ id: item.eventId, value: item }]);
        new PinDeltas().add(item, 1).write(batch);
      }
      if ((await batch.commit()).ok) {
        if (full) pass.skipped++;
        else pass.sent++;
        pass.skipped += missed;
        if (full || missed > 0) {
          this.#o.logger.warn("scheduled ticks skipped", {
            tenant,
            event: entry.event.id,
            missed,
            ...(full && { queueFull: entry.event.supplierqueue }),
          });
        }
        entry.next = nextTick(entry.compiled, tick);
        return false;
      }
      // Refused: the cursor moved (another process) or the head did.
      const head = await kv.get<PackageHead>(entry.head.key);
      if (head.versionstamp !== entry.head.versionstamp) return true;
    }
    return false;
  }
}
