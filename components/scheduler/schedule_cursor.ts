/**
 * A schedule's cursor (`keys.scheduleCursor`): the last tick sent, in the
 * store, so that every process that runs a scheduler agrees on it. A tick
 * is sent by one write that checks the cursor is as read and moves it (see
 * scheduler.ts); what is here reads cursors, finds the tick due, and builds
 * that write.
 */
import type { DurableQueue, WriteBatch } from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import { keys } from "../model/keys.ts";
import {
  nextTick,
  type ScheduleDef,
  scheduledItem,
} from "../model/schedule.ts";
import { PinDeltas } from "../packages/version_pins.ts";
import type { ScheduledEvent } from "./scheduled_event.ts";

/** What a schedule's cursor holds: the last tick sent (or skipped). */
export interface ScheduleCursor {
  cron: string;
  timezone?: string;
  /** The last tick handled, ms since the epoch. */
  last: number;
  /** Whether that tick's item was queued (false: skipped, the queue was full). */
  sent: boolean;
}

/** Whether a cursor was written for this very schedule (a changed one starts anew). */
export function sameSchedule(c: ScheduleCursor, s: ScheduleDef): boolean {
  return c.cron === s.cron && c.timezone === s.timezone;
}

/** The cursors of `events`, in order, read ten at a time. */
export async function readCursors(
  kv: Deno.Kv,
  events: ScheduledEvent[],
): Promise<Deno.KvEntryMaybe<ScheduleCursor>[]> {
  const out: Deno.KvEntryMaybe<ScheduleCursor>[] = [];
  for (let i = 0; i < events.length; i += 10) {
    out.push(
      ...await kv.getMany<ScheduleCursor[]>(
        events.slice(i, i + 10).map((e) =>
          keys.scheduleCursor(e.head.value.tenant, e.event.id)
        ),
      ),
    );
  }
  return out;
}

/**
 * The latest tick of `e` at or before `at` (from its `next`, which must be
 * due), and how many before it were missed. A fast schedule missed for
 * long jumps near `at` rather than walk every tick.
 */
export function latestTick(
  e: ScheduledEvent,
  at: number,
  minIntervalMs: number,
): { tick: number; missed: number } {
  let tick = e.next!;
  let missed = 0;
  for (let t = nextTick(e.compiled, tick); t !== null && t <= at;) {
    tick = t;
    missed++;
    if (missed >= 10_000) {
      const near = nextTick(e.compiled, at - minIntervalMs);
      tick = near !== null && near <= at ? near : tick;
      break;
    }
    t = nextTick(e.compiled, t);
  }
  return { tick, missed };
}

/**
 * Adds a tick's writes to `batch`: the check that the cursor and the
 * package's head are as read, the cursor moved to the tick, and (unless
 * the queue is full) the item appended with its version's pin.
 */
export function tickWrites(
  batch: WriteBatch,
  e: ScheduledEvent,
  cursor: Deno.KvEntryMaybe<ScheduleCursor>,
  tick: number,
  full: boolean,
  to: { queue: DurableQueue<EventItem>; newId: () => string },
): void {
  const schedule = e.event.schedule!;
  const { tenant, id: pkg, version } = e.head.value;
  batch.check(cursor, e.head);
  batch.set(
    cursor.key,
    {
      cron: schedule.cron,
      ...(schedule.timezone !== undefined && { timezone: schedule.timezone }),
      last: tick,
      sent: !full,
    } satisfies ScheduleCursor,
  );
  if (full) return;
  const item: EventItem = {
    tenant,
    package: pkg,
    version,
    event: e.event.id,
    eventId: to.newId(),
    data: scheduledItem(schedule, tick),
    ...(e.event.priority && e.event.priority !== "normal" &&
      { priority: e.event.priority }),
  };
  to.queue.append(batch, e.queue, [{ id: item.eventId, value: item }]);
  new PinDeltas().add(item, 1).write(batch);
}
