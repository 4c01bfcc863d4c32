/**
 * The write of the listener, its last step: the items of a request go to
 * their event's queue in one atomic write (accept_write.ts: with the
 * version pin they were accepted under and the once-records of the steps
 * before, an Idempotency-Key's answer and a signature's replay record),
 * measured as it is built (a 413 when it cannot fit one write), as one
 * all-or-nothing part of a group commit; only then is the answer 200 with
 * their ids.
 */
import {
  type DurableQueue,
  type GroupCommit,
  monotonicId,
} from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import type { EventItem } from "../model/event_item.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import type { PlatformMetrics } from "../observe/platform_metrics.ts";
import { currentTraceparent, inSpan } from "../observe/tracing.ts";
import { acceptWrite } from "./accept_write.ts";
import type { ListenerEnv } from "./listener_env.ts";
import type { Placement } from "../flow/flow_plan.ts";

/** What the listener answers when it accepts items. */
export interface Accepted {
  accepted: number;
  ids: string[];
  /**
   * When the items run, when the request put them off (ISO 8601,
   * eventDelay), or a rate limit or debounce did (the latest of them).
   */
  runAt?: string;
}

/**
 * The write was refused: a once-record it checks (an Idempotency-Key, a
 * signature's replay record) was written meanwhile by a concurrent
 * request. The step that set the record answers for it; unanswered, it is
 * a 500.
 */
export class WriteRefused extends Error {
  constructor() {
    super("Appending events to the queue failed");
    this.name = "WriteRefused";
  }
}

/**
 * What {@linkcode enqueueEvents} writes to and with.
 *
 * @example
 * ```ts
 * enqueueEvents({ kv, queue, commits: new GroupCommit(kv), metrics });
 * ```
 */
export interface EnqueueEventsOptions {
  /** The store the queues live in. */
  kv: Deno.Kv;
  /** The queues the items go to. */
  queue: DurableQueue<EventItem>;
  /** Commits the writes of concurrent requests together. */
  commits: GroupCommit;
  /**
   * Makes event ids.
   *
   * @default {monotonicId}
   */
  newId?: () => string;
  /**
   * Counts accepted events.
   *
   * @default {undefined}
   */
  metrics?: PlatformMetrics;
}

/**
 * Queues `items` (eventItems) on `route`'s queue (eventRoute) with the
 * `idempotency` and `replay` records, and answers 200 with their ids; put
 * off until `dueAt` (eventDelay) when it is set.
 *
 * @throws {TooLargeError} the write cannot fit one atomic write (413)
 * @throws {WriteRefused} a once-record was written meanwhile
 */
export function enqueueEvents(
  options: EnqueueEventsOptions,
): Step<ListenerEnv> {
  const { kv, queue, commits, metrics } = options;
  const newId = options.newId ?? monotonicId;
  return async function enqueueEvents(c) {
    const route = c.get("route");
    const data = c.get("items");
    const idem = c.get("idempotency");
    const replay = c.get("replay");
    const dueAt = c.get("dueAt");
    const flow = c.get("flow");
    const priority = c.get("priority") ?? route.event.priority;
    const { tenant } = route;
    const event = route.event.id;
    const ids = data.map(() => newId());
    let placement: Placement | undefined;
    let answer!: Accepted;
    const res = await inSpan("jobico.enqueue", () => ({
      "jobico.tenant": tenant,
      "jobico.event": event,
      "jobico.package": route.package,
      "jobico.version": route.version,
      "jobico.queue": route.event.supplierqueue,
      "jobico.items": data.length,
    }), () => {
      // The executor's spans continue this trace (observe/tracing.ts).
      const trace = currentTraceparent();
      const items = data.map((d, i) => ({
        id: ids[i],
        value: {
          tenant,
          package: route.package,
          version: route.version,
          event,
          eventId: ids[i],
          data: d,
          ...(trace && { trace }),
          ...(priority && priority !== "normal" && { priority }),
        } satisfies EventItem,
      }));
      // A rate limit or debounce says how they are written (flowControl).
      placement = flow?.place(items);
      const runAt = placement ? placement.runAt : dueAt;
      answer = {
        accepted: ids.length,
        ids: placement ? placement.ids : ids,
        ...(runAt !== undefined && { runAt: new Date(runAt).toISOString() }),
      };
      // One part of a group commit, measured as it is built.
      return commits.commit(acceptWrite({
        kv,
        queue,
        queueName: queueStorageName({
          tenant,
          queue: route.event.supplierqueue,
        }),
        items,
        dueAt,
        idempotency: idem && {
          key: idem.key,
          answer,
          expireIn: idem.expireIn,
        },
        replay,
        ...(placement && { place: placement.write }),
      }));
    });
    if (!res.ok) throw new WriteRefused();
    metrics?.accepted(tenant, event, ids.length);
    if (placement && metrics) {
      metrics.flowed(tenant, event, "throttled", placement.throttled);
      metrics.flowed(tenant, event, "debounced", placement.debounced);
    }
    return c.json(answer);
  };
}
