/**
 * An event's `schedule`: a cron pattern, a time zone, and what each tick
 * sends. The platform sends the event itself on every tick (see
 * components/scheduler/scheduler.ts); this file only reads patterns and
 * computes ticks (with croner), no store, no clock of its own.
 */
import { Cron } from "croner";

/** What `schedule:` declares (the short form, a string, is `{cron}`). */
export interface ScheduleDef {
  /**
   * Five fields (minute hour day-of-month month day-of-week), six with
   * seconds first, or a nickname (`@hourly`, `@daily`, ...).
   */
  cron: string;
  /** An IANA time zone; UTC when absent. */
  timezone?: string;
  /** Sent as `payload` in every tick's item, when declared. */
  payload?: unknown;
}

/** The item a tick sends: `{scheduledAt, payload?}`. */
export interface ScheduledItem {
  /** The tick, ISO 8601 in UTC. */
  scheduledAt: string;
  payload?: unknown;
}

/**
 * The shortest time between two ticks a schedule may declare, in ms, unless
 * the platform says otherwise: once a minute.
 */
export const DEFAULT_MIN_SCHEDULE_INTERVAL_MS = 60_000;

/** Ticks looked at to find a pattern's shortest gap. */
const GAP_SAMPLES = 120;

/** The item a tick at `tickMs` sends for `def`. */
export function scheduledItem(def: ScheduleDef, tickMs: number): ScheduledItem {
  return {
    scheduledAt: new Date(tickMs).toISOString(),
    ...(def.payload !== undefined && { payload: def.payload }),
  };
}

/** A compiled pattern, reused by `nextTick` (croner parses on construction). */
export type CompiledSchedule = Cron;

/**
 * Compiles a schedule; throws an Error whose message says what is wrong
 * (a pattern croner refuses, a field count it would take but we do not, an
 * unknown time zone, a pattern that never fires).
 */
export function compileSchedule(def: ScheduleDef): CompiledSchedule {
  const cron = def.cron.trim();
  const fields = cron.split(/\s+/).length;
  if (!cron.startsWith("@") && fields !== 5 && fields !== 6) {
    throw new Error(
      `it has ${fields} fields: use 5 (minute hour day month weekday) or 6 (seconds first)`,
    );
  }
  if (def.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: def.timezone });
    } catch {
      throw new Error(
        `unknown time zone "${def.timezone}": use an IANA name such as "Europe/Madrid" or "UTC"`,
      );
    }
  }
  let c: Cron;
  try {
    c = new Cron(cron, {
      paused: true,
      ...(def.timezone !== undefined && { timezone: def.timezone }),
    });
  } catch (err) {
    throw new Error(
      String((err as Error).message ?? err).replace(/^\w+: /, ""),
    );
  }
  return c;
}

/** The first tick after `afterMs`, in ms; null when there is none. */
export function nextTick(c: CompiledSchedule, afterMs: number): number | null {
  const next = c.nextRun(new Date(afterMs));
  return next ? next.getTime() : null;
}

/**
 * The shortest time between two of the next ticks after `fromMs`, in ms
 * (Infinity when it fires at most once); null when it never fires. A
 * pattern's close ticks come together (the values of one field), so the
 * first ones show its shortest gap.
 */
export function shortestGapMs(
  c: CompiledSchedule,
  fromMs: number,
): number | null {
  const runs = c.nextRuns(GAP_SAMPLES, new Date(fromMs)).map((d) =>
    d.getTime()
  );
  if (runs.length === 0) return null;
  let gap = Infinity;
  for (let i = 1; i < runs.length; i++) {
    gap = Math.min(gap, runs[i] - runs[i - 1]);
  }
  return gap;
}

/** "every 5 s", "every 2 min", for messages. */
export function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
