/**
 * Priorities of a `DurableQueue`'s items: three levels, `high`, `normal`
 * (what an item without one has, and every item queued before priorities
 * existed) and `low`. The order lives in the store: a queue's ready list
 * holds one band per level, `normal` at the keys it always had
 * (`[...prefix, "ready", queue, id]`) and the others under a number
 * (`[...prefix, "ready", queue, BAND, id]`: 0 high, 2 low), so a lease
 * in any process reads the head of each band and takes the highest first,
 * first in first out within a level.
 *
 * No starvation, by aging: an item's effective level rises by one for
 * every `agingMs` it has waited ready (since it was accepted, or since its
 * delay or retry fell due), up to `high`. Among items of the same
 * effective level the older id goes first. Hence the bound: once an item
 * has waited ready `levels × agingMs` (levels: how far below `high` it
 * is, so 2 × agingMs for `low`, 1 × for `normal`), no item accepted after
 * it is leased before it: however many high items keep coming, a low item
 * waits at most that long plus the time to run what was ahead of it then.
 */

/** An item's priority. */
export type Priority = "high" | "normal" | "low";

/** The levels, highest first. */
export const PRIORITIES: readonly Priority[] = ["high", "normal", "low"];

/** Each level's band: its rank, 0 the highest. */
export const PRIORITY_BAND: Readonly<Record<Priority, number>> = {
  high: 0,
  normal: 1,
  low: 2,
};

/** How long an item waits ready before its level rises by one, by default: 30 s. */
export const DEFAULT_AGING_MS = 30_000;

/** True when `value` names a priority. */
export function isPriority(value: unknown): value is Priority {
  return value === "high" || value === "normal" || value === "low";
}

/**
 * The band an item is leased from now: its own, raised (towards 0) by one
 * for every `agingMs` it has waited ready since `readySince`.
 */
export function effectiveBand(
  band: number,
  readySince: number,
  now: number,
  agingMs: number,
): number {
  if (band <= 0) return 0;
  const waited = Math.max(0, now - readySince);
  return Math.max(0, band - Math.floor(waited / agingMs));
}

/**
 * Merges the heads of several bands (each in id order) into the order
 * items are leased in: lowest effective band first, then the older id.
 */
export function byPriority<E>(
  bands: { band: number; entries: E[] }[],
  readySince: (e: E) => number,
  idOf: (e: E) => string,
  now: number,
  agingMs: number,
): E[] {
  const all: { e: E; eff: number; id: string }[] = [];
  for (const { band, entries } of bands) {
    for (const e of entries) {
      all.push({
        e,
        eff: effectiveBand(band, readySince(e), now, agingMs),
        id: idOf(e),
      });
    }
  }
  all.sort((a, b) => a.eff - b.eff || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return all.map((x) => x.e);
}
