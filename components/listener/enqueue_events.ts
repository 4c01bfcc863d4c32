/**
 * The write of the listener: the items of a request go to their event's
 * queue in one atomic write, with the version pin they were accepted
 * under and the once-records of the steps before (an Idempotency-Key's
 * answer, a signature's replay record), as one all-or-nothing part of a
 * group commit; only then is the answer 200 with their ids.
 *
 * Two steps, one concept: {@linkcode fitsOneWrite} measures the write
 * early (a request that can never fit is a final 413, before the schema's
 * 400 and the backlog's 429, as check_fits_one_write.ts says), and
 * {@linkcode enqueueEvents}, the last step, makes and commits it.
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
import { PinDeltas } from "../packages/version_pins.ts";
import { checkFitsOneWrite } from "./check_fits_one_write.ts";
import type { ListenerEnv } from "./listener_env.ts";

/** What the listener answers when it accepts items. */
export interface Accepted {
  accepted: number;
  ids: string[];
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
 * Sets `writeSize` for `items` (eventItems) on `route`'s queue
 * (eventRoute), measured as `queue`'s codec stores them.
 *
 * @throws {TooLargeError} the items cannot be queued in one write (413)
 */
export function fitsOneWrite(
  queue: Pick<DurableQueue<EventItem>, "codec">,
): Step<ListenerEnv> {
  return function fitsOneWrite(c, next) {
    const route = c.get("route");
    c.set(
      "writeSize",
      checkFitsOneWrite(
        c.get("items"),
        queueStorageName({
          tenant: route.tenant,
          queue: route.event.supplierqueue,
        }),
        queue.codec,
      ),
    );
    return next();
  };
}

/**
 * What {@linkcode enqueueEvents} writes to and with.
 *
 * @example
 * ```ts
 * enqueueEvents({ queue, commits: new GroupCommit(kv), metrics });
 * ```
 */
export interface EnqueueEventsOptions {
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
 * `idempotency` and `replay` records, in `writeSize` (fitsOneWrite), and
 * answers 200 with their ids.
 *
 * @throws {WriteRefused} a once-record was written meanwhile
 */
export function enqueueEvents(
  options: EnqueueEventsOptions,
): Step<ListenerEnv> {
  const { queue, commits, metrics } = options;
  const newId = options.newId ?? monotonicId;
  return async function enqueueEvents(c) {
    const route = c.get("route");
    const data = c.get("items");
    const size = c.get("writeSize");
    const idem = c.get("idempotency");
    const replay = c.get("replay");
    const { tenant } = route;
    const event = route.event.id;
    const ids = data.map(() => newId());
    const answer: Accepted = { accepted: ids.length, ids };
    const res = await inSpan("jobico.enqueue", {
      "jobico.tenant": tenant,
      "jobico.event": event,
      "jobico.package": route.package,
      "jobico.version": route.version,
      "jobico.queue": route.event.supplierqueue,
      "jobico.items": data.length,
    }, () => {
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
        } satisfies EventItem,
      }));
      const append = queue.appendWrites(
        queueStorageName({ tenant, queue: route.event.supplierqueue }),
        items,
      );
      // The version the items were accepted under stays until they are done.
      const pins = new PinDeltas().add(items[0].value, items.length).sums();
      // One part of a group commit: the items, and the Idempotency-Key and
      // signature records that must be written with them (both or neither).
      return commits.commit({
        sums: [...append.sums, ...pins],
        sets: append.sets,
        // The items, the queue's counter, marker and signal, the version's
        // pin count, and the records.
        mutations: items.length + 4 + (idem ? 1 : 0) + (replay ? 1 : 0),
        bytes: size.bytes,
        keyBytes: size.keyBytes,
        checks: [idem?.key, replay?.key].filter((k) => k !== undefined),
        write: (op: Deno.AtomicOperation) => {
          append.write(op);
          if (idem) {
            op.check({ key: idem.key, versionstamp: null }).set(
              idem.key,
              answer,
              { expireIn: idem.expireIn },
            );
          }
          if (replay) {
            op.check({ key: replay.key, versionstamp: null }).set(
              replay.key,
              1,
              { expireIn: replay.expireIn },
            );
          }
        },
      });
    });
    if (!res.ok) throw new WriteRefused();
    metrics?.accepted(tenant, event, ids.length);
    return c.json(answer);
  };
}
