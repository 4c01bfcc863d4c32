/**
 * Backpressure of the listener: a request is admitted only while its
 * event's queue holds fewer than the gauge's limit (see backlog_gauge.ts);
 * otherwise a 429 with a `Retry-After` that grows with the backlog.
 * Admission reserves the items until the write after it is done, so
 * concurrent requests cannot pass the limit together.
 */
import { TooManyError } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import { type BacklogGauge, retryAfterSeconds } from "./backlog_gauge.ts";
import type { ListenerEnv } from "./listener_env.ts";

/**
 * Admits `items` (eventItems) on `route`'s queue (eventRoute); the answer
 * of the steps after tells the gauge whether they were appended.
 *
 * @throws {TooManyError} the queue is full (429, with Retry-After)
 */
export function backpressure(gauge: BacklogGauge): Step<ListenerEnv> {
  return async function backpressure(c, next) {
    const route = c.get("route");
    const count = c.get("items").length;
    const queue = route.event.supplierqueue;
    const admission = await gauge.admit(
      queueStorageName({ tenant: route.tenant, queue }),
      count,
    );
    if (!("done" in admission)) {
      const { backlog, limit } = admission;
      const retryAfter = retryAfterSeconds(backlog, count, limit);
      throw new TooManyError(
        `Queue "${queue}" of tenant "${route.tenant}" holds ${backlog} events; ` +
          `the limit is ${limit}: try again in ${retryAfter} s`,
        retryAfter,
        { queue, backlog, limit },
      );
    }
    let res: Response;
    try {
      res = await next();
    } catch (err) {
      admission.done(false);
      throw err;
    }
    // The write step answers 200 only once the items are committed.
    admission.done(res.ok);
    return res;
  };
}
