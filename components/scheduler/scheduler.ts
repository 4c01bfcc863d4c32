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
  abortableSleep,
  type DurableQueue,
  type Logger,
  monotonicId,
  silentLogger,
  WriteBatch,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import { keys } from "../model/keys.ts";
import {
  DEFAULT_MIN_SCHEDULE_INTERVAL_MS,
  nextTick,
} from "../model/schedule.ts";
import type { Definitions } from "../packages/definitions.ts";
import type { PackageHead, PackageStore } from "../packages/package_store.ts";
import {
  latestTick,
  readCursors,
  sameSchedule,
  type ScheduleCursor,
  tickWrites,
} from "./schedule_cursor.ts";
import { readScheduledEvents, type ScheduledEvent } from "./scheduled_event.ts";

export type { ScheduleCursor } from "./schedule_cursor.ts";

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
  #entries: ScheduledEvent[] = [];
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
    const { kv, definitions, now, logger } = this.#o;
    const position = await this.#o.store.feed.position();
    const entries = await readScheduledEvents(kv, definitions, logger);
    const cursors = await readCursors(kv, entries);
    const at = now();
    entries.forEach((entry, i) => {
      const c = cursors[i].value;
      // A schedule seen for the first time (or changed) starts now; one
      // with a cursor goes on after its last tick.
      entry.next = nextTick(
        entry.compiled,
        c && sameSchedule(c, entry.event.schedule!) ? c.last : at,
      );
    });
    this.#entries = entries;
    this.#loadedAt = position;
  }

  /**
   * Sends every tick that is due; reloads first when definitions changed.
   * The ticks due together go in as few writes as hold them (up to
   * FIRE_BATCH schedules a write): their cursors read ten at a time, each
   * queue's backlog once. A write that is refused (another process sent one
   * of its ticks, or a deploy moved a head) is done again one schedule at a
   * time.
   */
  async runDue(): Promise<SchedulerPass> {
    const position = await this.#o.store.feed.position();
    if (position !== this.#loadedAt) await this.load();
    const pass: SchedulerPass = { sent: 0, taken: 0, skipped: 0, failed: 0 };
    const at = this.#o.now();
    const due = this.#entries.filter((e) => e.next !== null && e.next <= at);
    if (due.length === 0) return pass;
    let stale = false;
    let cursors: Deno.KvEntryMaybe<ScheduleCursor>[];
    try {
      cursors = await readCursors(this.#o.kv, due);
    } catch (err) {
      pass.failed += due.length;
      this.#o.logger.warn("scheduled ticks were not sent yet", {
        error: String(err),
      });
      return pass;
    }
    const backlogs = new Map<string, number>();
    let batch = new WriteBatch(this.#o.kv);
    let parts: Fired[] = [];
    const flush = async () => {
      if (parts.length === 0) return;
      const ok = await batch.commit().then((r) => r.ok, () => false);
      for (const f of parts) {
        if (ok) this.#fired(f, pass);
        else stale = (await this.#fireAlone(f.entry, pass)) || stale;
      }
      batch = new WriteBatch(this.#o.kv);
      parts = [];
    };
    for (let i = 0; i < due.length; i++) {
      const entry = due[i];
      const { tick, missed } = latestTick(entry, at, this.#o.minIntervalMs);
      if (!this.#wanted(entry, cursors[i], tick, pass)) continue;
      let backlog = backlogs.get(entry.queue);
      if (backlog === undefined) {
        try {
          backlog = await this.#o.queue.backlog(entry.queue);
        } catch {
          backlog = 0; // the write below fails the same way, then alone
        }
      }
      const full = backlog >= this.#o.maxQueueDepth;
      backlogs.set(entry.queue, backlog + (full ? 0 : 1));
      const part = new WriteBatch(this.#o.kv);
      tickWrites(part, entry, cursors[i], tick, full, this.#o);
      if (parts.length >= FIRE_BATCH || !batch.fits(part)) await flush();
      batch.add(part);
      parts.push({ entry, tick, missed, full });
    }
    await flush();
    // A head changed under a tick: read the schedules again next time.
    if (stale) this.#loadedAt = null;
    return pass;
  }

  /** One schedule alone (after a refused write), counting a failure. */
  async #fireAlone(
    entry: ScheduledEvent,
    pass: SchedulerPass,
  ): Promise<boolean> {
    try {
      return await this.#fire(entry, pass);
    } catch (err) {
      // SQLite's "database is locked" with several processes on one
      // file, or a store that failed: nothing was written; next look.
      pass.failed++;
      this.#o.logger.warn("a scheduled tick was not sent yet", {
        tenant: entry.head.value.tenant,
        event: entry.event.id,
        error: String(err),
      });
      return false;
    }
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
      await abortableSleep(wait, signal);
    }
  }

  /**
   * Handles the latest due tick of one schedule, alone. Returns true when
   * the package's head changed (the entry is stale).
   */
  async #fire(entry: ScheduledEvent, pass: SchedulerPass): Promise<boolean> {
    const { kv, queue, now } = this.#o;
    const cursorKey = keys.scheduleCursor(
      entry.head.value.tenant,
      entry.event.id,
    );
    for (let tries = 0; tries < 3; tries++) {
      const { tick, missed } = latestTick(entry, now(), this.#o.minIntervalMs);
      const cursor = await kv.get<ScheduleCursor>(cursorKey);
      if (!this.#wanted(entry, cursor, tick, pass)) return false;
      const full = (await queue.backlog(entry.queue)) >=
        this.#o.maxQueueDepth;
      const batch = new WriteBatch(kv);
      tickWrites(batch, entry, cursor, tick, full, this.#o);
      if ((await batch.commit()).ok) {
        this.#fired({ entry, tick, missed, full }, pass);
        return false;
      }
      // Refused: the cursor moved (another process) or the head did.
      const head = await kv.get<PackageHead>(entry.head.key);
      if (head.versionstamp !== entry.head.versionstamp) return true;
    }
    return false;
  }

  /**
   * Whether `tick` is still to be sent, given the schedule's cursor: not
   * when another process handled it (counted as taken), nor when it comes
   * sooner after the last than the minimum interval allows. Moves the
   * entry's next tick when not.
   */
  #wanted(
    entry: ScheduledEvent,
    cursor: Deno.KvEntryMaybe<ScheduleCursor>,
    tick: number,
    pass: SchedulerPass,
  ): boolean {
    const c = cursor.value;
    if (!c || !sameSchedule(c, entry.event.schedule!)) return true;
    if (c.last >= tick) {
      pass.taken++;
      entry.next = nextTick(entry.compiled, c.last);
      return false;
    }
    if (tick - c.last < this.#o.minIntervalMs) {
      entry.next = nextTick(entry.compiled, c.last + this.#o.minIntervalMs - 1);
      return false;
    }
    return true;
  }

  /** Counts a tick whose write committed, and moves its entry on. */
  #fired(f: Fired, pass: SchedulerPass): void {
    if (f.full) pass.skipped++;
    else pass.sent++;
    pass.skipped += f.missed;
    if (f.full || f.missed > 0) {
      this.#o.logger.warn("scheduled ticks skipped", {
        tenant: f.entry.head.value.tenant,
        event: f.entry.event.id,
        missed: f.missed,
        ...(f.full && { queueFull: f.entry.event.supplierqueue }),
      });
    }
    f.entry.next = nextTick(f.entry.compiled, f.tick);
  }
}

/** A tick added to a write. */
interface Fired {
  entry: ScheduledEvent;
  tick: number;
  missed: number;
  full: boolean;
}

/** Schedules one write sends ticks of, at most (two checks each; a write takes 100). */
const FIRE_BATCH = 40;
