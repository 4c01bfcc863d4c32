/**
 * The arithmetic of a rate limit: fixed windows of `period` ms aligned to
 * the epoch (a `1m` period: each clock minute, UTC), each taking at most
 * `limit` items of a key. A key's state is the last window that took items
 * and how many it took; windows are filled in order, so that is all there
 * is to know. Pure: the store's side is in flow_plan.ts.
 *
 * - `admitNow` (mode `reject`): the items all fit the current window, or
 *   none is taken and the answer says when the next window opens.
 * - `throttle`: each item takes the first window with room from the one
 *   at `base` on; it is due when its window opens (or at `base`, in the
 *   current one).
 */

/** A key's state: the window (index since the epoch) and what it took. */
export interface RateState {
  /** The period the windows were counted in, ms (a changed period starts over). */
  p: number;
  /** The last window that took items, `floor(t / p)`. */
  w: number;
  /** Items it took. */
  n: number;
}

/** A window's count of the state at `t`: `state` as it is, or a new window. */
function current(state: RateState | null, periodMs: number, t: number) {
  const w = Math.floor(t / periodMs);
  return state && state.p === periodMs && state.w >= w
    ? { ...state }
    : { p: periodMs, w, n: 0 };
}

/**
 * Takes `k` items into the window of `now`, all or none: the new state, or
 * how long until the next window opens and how many the current one took.
 */
export function admitNow(
  state: RateState | null,
  limit: number,
  periodMs: number,
  now: number,
  k: number,
): { state: RateState } | { retryAfterMs: number; used: number } {
  const s = current(state, periodMs, now);
  if (s.n + k <= limit) return { state: { ...s, n: s.n + k } };
  return { retryAfterMs: (s.w + 1) * periodMs - now, used: s.n };
}

/**
 * Places `k` items from `base` on: the new state and each item's due time
 * (ms; `base` for those in its own window).
 */
export function throttle(
  state: RateState | null,
  limit: number,
  periodMs: number,
  base: number,
  k: number,
): { state: RateState; dueAts: number[] } {
  const s = current(state, periodMs, base);
  const dueAts: number[] = [];
  for (let i = 0; i < k; i++) {
    if (s.n >= limit) {
      s.w++;
      s.n = 0;
    }
    s.n++;
    dueAts.push(Math.max(base, s.w * periodMs));
  }
  return { state: s, dueAts };
}
