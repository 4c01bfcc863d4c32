/**
 * What an event's `rateLimit` or `debounce` (model/flow_limits.ts) does to
 * a request's items, decided on the store so that every process agrees:
 *
 * - each item's key is read at the key path and grouped (a request may
 *   hold items of up to MAX_KEYS_PER_REQUEST keys: 40, 30 for a debounce);
 * - rateLimit: each key's window state (rate_window.ts) is read; `reject`
 *   refuses the whole request with a 429 when any key's window is full,
 *   `throttle` gives each item the first window with room, and the items
 *   of later windows are appended delayed until their window opens;
 * - debounce: each key's record names the delayed item of its open
 *   window; a new item replaces it (`keep: last`) or puts it off
 *   (`keep: first`), due `period` after the newest item, and a key whose
 *   window closed (its item was promoted) starts a new one.
 *
 * The plan is made from one read and written in the request's one atomic
 * write (listener/enqueue_events.ts), which checks every state record and
 * delayed item it read: when another process (or request) changed one
 * meanwhile, the write is refused and the listener plans again
 * (listener/flow_control.ts).
 */
import {
  type DelayedEntry,
  type DurableQueue,
  TooLargeError,
  type WriteBatch,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import {
  compileKeyPath,
  type DebounceDef,
  durationMs,
  type KeyPath,
  keyText,
  type RateLimitDef,
  valueAt,
} from "../model/flow_limits.ts";
import { keys } from "../model/keys.ts";
import type { EventDef } from "../model/job_package.ts";
import { PinDeltas } from "../packages/version_pins.ts";
import { RateLimitedError } from "./rate_limited_error.ts";
import { admitNow, type RateState, throttle } from "./rate_window.ts";

/**
 * Distinct keys one request's items may have: each takes checks of the
 * write, which holds 100 (a rate limit's key one, its window; a
 * debounce's three, its record and its delayed item's two records).
 */
export const MAX_KEYS_PER_REQUEST = { rate: 40, debounce: 30 } as const;
/** A debounce record outlives its item's due time by this much. */
const DEBOUNCE_RECORD_SLACK_MS = 10 * 60_000;

/** Where a key's debounced item is. */
interface DebounceRecord {
  id: string;
  queue: string;
  dueAt: number;
}

/** How the items of a request are written (see listener/enqueue_events.ts). */
export interface Placement {
  /** The id each item is answered with: its own, or the queued one it was merged into. */
  ids: string[];
  /** The latest due time of the items, when any is put off. */
  runAt?: number;
  /** Items a rate limit put off to a later window. */
  throttled: number;
  /** Items a debounce merged into another. */
  debounced: number;
  /** Adds the items, the state records and their checks to the write. */
  write(batch: WriteBatch): void;
}

/** A plan made from one read: place the items, or tell whether what it read changed. */
export interface FlowPlan {
  place(items: { id: string; value: EventItem }[]): Placement;
  /** Whether a record or delayed item the plan read changed since (its write was refused for it). */
  changed(): Promise<boolean>;
}

/** An event's flow limit, compiled once per definition. */
export interface CompiledFlow {
  kind: "rate" | "debounce";
  rateLimit?: RateLimitDef;
  debounce?: DebounceDef;
  path: KeyPath;
  periodMs: number;
}

const compiled = new WeakMap<EventDef, CompiledFlow | null>();

/** The event's flow limit, compiled (null when it has none). */
export function compiledFlow(event: EventDef): CompiledFlow | null {
  let c = compiled.get(event);
  if (c === undefined) {
    const def = event.rateLimit ?? event.debounce;
    c = def
      ? {
        kind: event.rateLimit ? "rate" : "debounce",
        ...(event.rateLimit && { rateLimit: event.rateLimit }),
        ...(event.debounce && { debounce: event.debounce }),
        path: compileKeyPath(def.key ?? "$"),
        periodMs: durationMs(def.period),
      }
      : null;
    compiled.set(event, c);
  }
  return c;
}

/** The key texts of `items`, and which items have each, in order. */
export function groupByKey(
  flow: CompiledFlow,
  items: unknown[],
): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  const most = MAX_KEYS_PER_REQUEST[flow.kind];
  for (let i = 0; i < items.length; i++) {
    const k = flow.path.length === 0
      ? ""
      : keyText(valueAt(items[i], flow.path));
    const list = groups.get(k);
    if (list) list.push(i);
    else {
      groups.set(k, [i]);
      if (groups.size > most) {
        const def = flow.rateLimit ?? flow.debounce!;
        throw new TooLargeError(
          `The items of "data" have more than ${most} distinct values of key ${
            JSON.stringify(def.key)
          } (at item ${i}); send the items of fewer keys per request`,
        );
      }
    }
  }
  return groups;
}

/** What a plan needs besides the request. */
export interface PlanContext {
  kv: Deno.Kv;
  queue: DurableQueue<EventItem>;
  /** The clock. */
  now: number;
  /** The furthest a throttled item may be put off, in ms. */
  maxDelayMs: number;
}

/** What the request brings. */
export interface PlanRequest {
  tenant: string;
  event: string;
  queueName: string;
  /** Key text -> the indexes of the items of that key. */
  groups: Map<string, number[]>;
  count: number;
  /** When the request put its items off (eventDelay). */
  dueAt?: number;
}

/**
 * Reads the state of each key and plans the items.
 *
 * @throws {RateLimitedError} `reject` and a key's window is full, or
 * `throttle` and an item would wait past `maxDelayMs` (429)
 */
export async function planFlow(
  flow: CompiledFlow,
  ctx: PlanContext,
  req: PlanRequest,
): Promise<FlowPlan> {
  const keyList = [...req.groups.keys()];
  const stateKeys = keyList.map((k) =>
    keys.flowState(req.tenant, req.event, flow.kind, k)
  );
  const states: Deno.KvEntryMaybe<unknown>[] = [];
  for (let i = 0; i < stateKeys.length; i += 10) {
    states.push(...await ctx.kv.getMany(stateKeys.slice(i, i + 10)));
  }
  const read: Deno.KvEntryMaybe<unknown>[] = [...states];
  const changed = async () => {
    for (let i = 0; i < read.length; i += 10) {
      const now = await ctx.kv.getMany(read.slice(i, i + 10).map((e) => e.key));
      if (now.some((e, j) => e.versionstamp !== read[i + j].versionstamp)) {
        return true;
      }
    }
    return false;
  };
  if (flow.kind === "rate") {
    return planRate(flow, ctx, req, keyList, states, changed);
  }
  const delayed = await Promise.all(states.map(async (s) => {
    const rec = s.value as DebounceRecord | null;
    if (!rec || rec.queue !== req.queueName) return null;
    const e = await ctx.queue.getDelayed(rec.queue, rec.id);
    if (e) read.push(...e.entries);
    return e;
  }));
  return planDebounce(flow, ctx, req, keyList, states, delayed, changed);
}

function planRate(
  flow: CompiledFlow,
  ctx: PlanContext,
  req: PlanRequest,
  keyList: string[],
  states: Deno.KvEntryMaybe<unknown>[],
  changed: () => Promise<boolean>,
): FlowPlan {
  const def = flow.rateLimit!;
  const { limit } = def;
  const p = flow.periodMs;
  const dueAts: (number | undefined)[] = new Array(req.count);
  const next: RateState[] = [];
  const base = Math.max(ctx.now, req.dueAt ?? 0);
  let throttled = 0;
  keyList.forEach((k, i) => {
    const indexes = req.groups.get(k)!;
    const state = states[i].value as RateState | null;
    if (def.mode === "reject") {
      const r = admitNow(state, limit, p, ctx.now, indexes.length);
      if ("retryAfterMs" in r) {
        throw rateLimited(req, def, k, indexes.length, r.used, r.retryAfterMs);
      }
      next.push(r.state);
      for (const at of indexes) dueAts[at] = req.dueAt;
      return;
    }
    const r = throttle(state, limit, p, base, indexes.length);
    const last = r.dueAts[r.dueAts.length - 1];
    if (last - ctx.now > ctx.maxDelayMs) {
      // The key's windows are taken that far ahead: its backlog is full.
      throw new RateLimitedError(
        `Event "${req.event}" of tenant "${req.tenant}" is throttled to ${limit} per ${def.period}${
          keyLabel(def, k)
        }, and its windows are taken until ${
          new Date(last).toISOString()
        }, past the furthest an event may wait (${
          Math.floor(ctx.maxDelayMs / 1000)
        } s): try again later`,
        Math.ceil((last - ctx.now - ctx.maxDelayMs) / 1000),
        limitFields(req, def, k),
      );
    }
    next.push(r.state);
    r.dueAts.forEach((due, j) => {
      const put = due > base || req.dueAt !== undefined;
      dueAts[indexes[j]] = put ? due : undefined;
      if (due > base) throttled++;
    });
  });
  return {
    changed,
    place(items) {
      return {
        ids: items.map((it) => it.id),
        ...latest(dueAts),
        throttled,
        debounced: 0,
        write(batch) {
          keyList.forEach((_, i) => {
            const s = next[i];
            const expireIn = (s.w + 2) * s.p - ctx.now;
            batch.check(states[i]).set(states[i].key, s, { expireIn });
          });
          new PinDeltas().add(items[0].value, items.length).write(batch);
          appendByDue(ctx.queue, batch, req.queueName, items, dueAts);
        },
      };
    },
  };
}

function planDebounce(
  flow: CompiledFlow,
  ctx: PlanContext,
  req: PlanRequest,
  keyList: string[],
  states: Deno.KvEntryMaybe<unknown>[],
  delayed: (DelayedEntry<EventItem> | null)[],
  changed: () => Promise<boolean>,
): FlowPlan {
  const keep = flow.debounce!.keep ?? "last";
  const due = Math.max(ctx.now, req.dueAt ?? 0) + flow.periodMs;
  return {
    changed,
    place(items) {
      const ids = items.map((it) => it.id);
      let debounced = 0;
      const writes: ((batch: WriteBatch, pins: PinDeltas) => void)[] = [];
      keyList.forEach((k, i) => {
        const indexes = req.groups.get(k)!;
        const old = delayed[i];
        let runs: string;
        if (keep === "first" && old) {
          // The first item of the window stays, put off.
          runs = old.item.id;
          debounced += indexes.length;
          writes.push((b) => ctx.queue.postponeDelayed(b, old, due));
        } else {
          const kept =
            items[indexes[keep === "first" ? 0 : indexes.length - 1]];
          runs = kept.id;
          debounced += indexes.length - 1 + (old ? 1 : 0);
          writes.push((b, pins) => {
            if (old) {
              ctx.queue.withdrawDelayed(b, old);
              pins.add(old.item.value, -1);
            }
            ctx.queue.appendDelayed(b, req.queueName, [kept], due);
            pins.add(kept.value, 1);
          });
        }
        for (const at of indexes) ids[at] = runs;
        const record: DebounceRecord = {
          id: runs,
          queue: req.queueName,
          dueAt: due,
        };
        writes.push((b) =>
          b.check(states[i]).set(states[i].key, record, {
            expireIn: due - ctx.now + DEBOUNCE_RECORD_SLACK_MS,
          })
        );
      });
      return {
        ids,
        runAt: due,
        throttled: 0,
        debounced,
        write(batch) {
          const pins = new PinDeltas();
          for (const w of writes) w(batch, pins);
          pins.write(batch);
        },
      };
    },
  };
}

/** Appends the items now, or delayed until their due time, in groups of one due time. */
function appendByDue(
  queue: DurableQueue<EventItem>,
  batch: WriteBatch,
  queueName: string,
  items: { id: string; value: EventItem }[],
  dueAts: (number | undefined)[],
): void {
  const byDue = new Map<
    number | undefined,
    { id: string; value: EventItem }[]
  >();
  items.forEach((it, i) => {
    const list = byDue.get(dueAts[i]);
    if (list) list.push(it);
    else byDue.set(dueAts[i], [it]);
  });
  for (const [due, some] of byDue) {
    if (due === undefined) queue.append(batch, queueName, some);
    else queue.appendDelayed(batch, queueName, some, due);
  }
}

/** `{runAt}` of the latest due time, or nothing when none is put off. */
function latest(dueAts: (number | undefined)[]): { runAt?: number } {
  let max: number | undefined;
  for (const d of dueAts) {
    if (d !== undefined && (max === undefined || d > max)) max = d;
  }
  return max === undefined ? {} : { runAt: max };
}

/** ` for key "c-1"` (cut to 64 characters), or nothing for the one key. */
function keyLabel(def: RateLimitDef, k: string): string {
  return def.key ? ` for ${def.key} ${JSON.stringify(k.slice(0, 72))}` : "";
}

/** The problem's fields naming the limit. */
function limitFields(req: PlanRequest, def: RateLimitDef, k: string) {
  return {
    event: req.event,
    limit: def.limit,
    period: def.period,
    mode: def.mode ?? "throttle",
    ...(def.key && { key: def.key, keyValue: k.slice(0, 72) }),
  };
}

function rateLimited(
  req: PlanRequest,
  def: RateLimitDef,
  k: string,
  count: number,
  used: number,
  retryAfterMs: number,
): RateLimitedError {
  const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const why = count > def.limit
    ? `this request has ${count} items of it, more than a window takes`
    : `${used} of ${def.limit} were taken in this window`;
  return new RateLimitedError(
    `Event "${req.event}" of tenant "${req.tenant}" is limited to ${def.limit} per ${def.period}${
      keyLabel(def, k)
    }: ${why}; the next window opens in ${retryAfter} s`,
    retryAfter,
    limitFields(req, def, k),
  );
}
