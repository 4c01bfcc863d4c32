/**
 * The flow step of the listener: an event with a `rateLimit` or
 * `debounce` (model/flow_limits.ts) has its items planned on the store
 * (flow/flow_plan.ts): refused with a 429 naming the limit (`reject`),
 * put off to the window that has room (`throttle`), or merged into the
 * key's delayed item (`debounce`). The plan is written with the items in
 * their one write (enqueueEvents); when another request or process
 * changed a state it read, that write is refused and the step plans again.
 * Requests of one key take turns in this process (flow/keyed_locks.ts), so
 * they read each other's writes rather than racing for them.
 *
 * An event without either passes through at the cost of a property read.
 */
import type { DurableQueue } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import type { EventItem } from "../model/event_item.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import { compiledFlow, groupByKey, planFlow } from "../flow/flow_plan.ts";
import { KeyedLocks } from "../flow/keyed_locks.ts";
import { DEFAULT_MAX_DELAY_MS } from "./delivery_time.ts";
import { WriteRefused } from "./enqueue_events.ts";
import type { ListenerEnv } from "./listener_env.ts";

/** Plans made again after a refused write, at most, before the refusal stands (a 500). */
const MAX_REPLANS = 20;

export interface FlowControlOptions {
  /** The store the states live in. */
  kv: Deno.Kv;
  /** The queues (a debounced key's delayed item). */
  queue: DurableQueue<EventItem>;
  /**
   * The furthest a throttled item may be put off, in ms (past it, a 429).
   *
   * @default {DEFAULT_MAX_DELAY_MS}
   */
  maxDelayMs?: number;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * Sets `flow` for an event with a rate limit or debounce.
 *
 * @throws {RateLimitedError} over a `reject` limit, or a `throttle` backlog past `maxDelayMs` (429)
 * @throws {TooLargeError} items of more than MAX_KEYS_PER_REQUEST keys (413)
 */
export function flowControl(options: FlowControlOptions): Step<ListenerEnv> {
  const { kv, queue } = options;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const now = options.now ?? Date.now;
  const locks = new KeyedLocks();
  return async function flowControl(c, next) {
    const route = c.get("route");
    const flow = compiledFlow(route.event);
    if (!flow) return next();
    const items = c.get("items");
    const groups = groupByKey(flow, items);
    const { tenant } = route;
    const event = route.event.id;
    const release = await locks.acquire(
      [...groups.keys()].map((k) => `${tenant}\u0000${event}\u0000${k}`),
    );
    try {
      for (let tries = 0;; tries++) {
        const plan = await planFlow(flow, {
          kv,
          queue,
          now: now(),
          maxDelayMs,
        }, {
          tenant,
          event,
          queueName: queueStorageName({
            tenant,
            queue: route.event.supplierqueue,
          }),
          groups,
          count: items.length,
          dueAt: c.get("dueAt"),
        });
        c.set("flow", plan);
        try {
          return await next();
        } catch (err) {
          // Refused for what the plan read (another process wrote it): again.
          if (
            !(err instanceof WriteRefused) || tries >= MAX_REPLANS ||
            !(await plan.changed())
          ) throw err;
        }
      }
    } finally {
      release();
    }
  };
}
