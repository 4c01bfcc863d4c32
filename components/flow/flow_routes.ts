/**
 * Cancel and re-run, under /api/v1 (tenant-scoped like every route under
 * /api/v1/tenants/{tenant}: a tenant's token reaches only its own):
 *
 * - `DELETE .../events/{event}/items/{id}`: cancels an item waiting in its
 *   queue or delayed; one already running is a 409, one that ran (or never
 *   was) a 404.
 * - `POST .../executions/{id}/rerun`: sends the input a recorded execution
 *   ran with to its event again, as a new item (validated against the
 *   event's current schema, counted against its queue's depth) and
 *   through the event's `rateLimit` or `debounce` as a webhook request
 *   (flow_plan.ts): over a `reject` limit it is a 429 naming the limit, a
 *   `throttle` puts it off to the window with room, a debounce merges it
 *   into the key's waiting item.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import {
  ConflictError,
  type DurableQueue,
  KvLimitError,
  monotonicId,
  NotFoundError,
  TooManyError,
  UnresolvedError,
  ValidationError,
  WriteBatch,
} from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import { DEFAULT_MAX_DELAY_MS } from "../listener/delivery_time.ts";
import { compiledFlow, groupByKey, planFlow } from "./flow_plan.ts";
import type { EventItem } from "../model/event_item.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import type { Definitions, EventRoute } from "../packages/definitions.ts";
import { PinDeltas } from "../packages/version_pins.ts";
import type { ExecutionStore } from "../executions/execution_store.ts";
import { describeSchemaError } from "../repo/describe_schema_error.ts";
import {
  PatternWorkError,
  withPatternDeadline,
} from "../repo/linear_regexp.ts";
import { json, NAME_PATTERN, PATH, problems, ref } from "../openapi/schemas.ts";

/** Plans made again after a refused write, at most (as the listener). */
const MAX_REPLANS = 20;

/** Event and execution ids: what `monotonicId` makes. */
const ID = /^[0-9a-z]{19}$/;

/**
 * What {@linkcode flowApp} needs.
 *
 * @example
 * ```ts
 * app.route("/", flowApp({ kv, definitions, queue, executions }));
 * ```
 */
export interface FlowOptions {
  kv: Deno.Kv;
  definitions: Definitions;
  queue: DurableQueue<EventItem>;
  executions: ExecutionStore;
  /**
   * Items a queue may hold before a re-run for it is refused with a 429.
   *
   * @default {100000}
   */
  maxQueueDepth?: number;
  /**
   * The furthest a throttled re-run may be put off, in ms (past it, a 429).
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
  /**
   * Makes event ids.
   *
   * @default {monotonicId}
   */
  newId?: () => string;
}

export function flowApp(options: FlowOptions): Hono {
  const { kv, definitions, queue, executions } = options;
  const maxDepth = options.maxQueueDepth ?? 100_000;
  const newId = options.newId ?? monotonicId;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const now = options.now ?? Date.now;
  const app = new Hono();

  /** The event's current route, or a 404 naming it. */
  async function routeOf(
    tenant: string,
    event: string,
  ): Promise<EventRoute> {
    const route = await definitions.route(tenant, event);
    if (!route) {
      throw new NotFoundError(`Tenant "${tenant}" has no event "${event}"`);
    }
    return route;
  }

  app.delete(
    "/api/v1/tenants/:tenant/events/:event/items/:id",
    DOCS.cancel,
    async (c) => {
      const tenant = checkName("tenant", c.req.param("tenant"));
      const event = checkName("event id", c.req.param("event"));
      const id = c.req.param("id");
      if (!ID.test(id)) {
        throw new ValidationError(
          `Invalid event id "${
            id.slice(0, 64)
          }": use an id the webhook answered with (19 lowercase letters and digits)`,
        );
      }
      const route = await routeOf(tenant, event);
      const name = queueStorageName({
        tenant,
        queue: route.event.supplierqueue,
      });
      const done = await queue.cancel(
        name,
        id,
        // The version it was accepted under is free of it.
        (batch, item) => new PinDeltas().add(item.value, -1).write(batch),
        // Another event's item on the same queue is not this event's to cancel.
        (item) => item.value.event === event && item.value.tenant === tenant,
      );
      if (done.state === "running") {
        throw new ConflictError(
          `Event "${event}" item "${id}" of tenant "${tenant}" is running: it can no longer be cancelled`,
        );
      }
      if (done.state === "missing") {
        throw new NotFoundError(
          `Event "${event}" of tenant "${tenant}" has no waiting or delayed item "${id}" (it ran, was cancelled, or never was)`,
        );
      }
      return c.json({
        id,
        event,
        state: done.state,
        ...("dueAt" in done && done.dueAt !== undefined &&
          { runAt: new Date(done.dueAt).toISOString() }),
      });
    },
  );

  app.post(
    "/api/v1/tenants/:tenant/executions/:id/rerun",
    DOCS.rerun,
    async (c) => {
      const tenant = checkName("tenant", c.req.param("tenant"));
      const id = c.req.param("id");
      if (!ID.test(id)) {
        throw new ValidationError(
          `Invalid execution id "${
            id.slice(0, 64)
          }": use the id of a recorded execution (19 lowercase letters and digits)`,
        );
      }
      const exec = await executions.get(tenant, id);
      if (!exec) {
        throw new NotFoundError(
          `Tenant "${tenant}" has no execution "${id}"`,
        );
      }
      if (!("input" in exec)) {
        throw new ConflictError(
          `Execution "${id}" cannot be re-run: its input was not kept (see its logs)`,
        );
      }
      const route = await routeOf(tenant, exec.event);
      let valid: boolean;
      try {
        valid = withPatternDeadline(250, () => route.validate(exec.input));
      } catch (err) {
        if (!(err instanceof PatternWorkError)) throw err;
        valid = false;
      }
      if (!valid) {
        const why = (route.validate.errors ?? []).slice(0, 3).map((e) => {
          const d = describeSchemaError(e);
          return `${d.path} ${d.message}`;
        }).join("; ");
        throw new UnresolvedError(
          `The input of execution "${id}" no longer matches schema "${route.event.schema.schemaref}" of event "${exec.event}": ${why}`,
        );
      }
      const name = queueStorageName({
        tenant,
        queue: route.event.supplierqueue,
      });
      const backlog = await queue.backlog(name);
      if (backlog >= maxDepth) {
        throw new TooManyError(
          `Queue "${route.event.supplierqueue}" of tenant "${tenant}" holds ${backlog} events; the limit is ${maxDepth}`,
          5,
          { queue: route.event.supplierqueue, backlog, limit: maxDepth },
        );
      }
      const eventId = newId();
      const item: EventItem = {
        tenant,
        package: route.package,
        version: route.version,
        event: exec.event,
        eventId,
        data: exec.input,
        rerunOf: id,
      };
      const flow = compiledFlow(route.event);
      if (!flow) {
        const batch = new WriteBatch(kv);
        new PinDeltas().add(item, 1).write(batch);
        append(
          id,
          () => queue.append(batch, name, [{ id: eventId, value: item }]),
        );
        if (!(await batch.commit()).ok) {
          throw new Error("Queueing the re-run failed");
        }
        return c.json({ accepted: 1, ids: [eventId], rerunOf: id });
      }
      // As a webhook request of one item: planned on the store, written
      // with its states in one atomic; planned again when another request
      // or process changed a state it read.
      const groups = groupByKey(flow, [item.data]);
      for (let tries = 0;; tries++) {
        const plan = await planFlow(flow, {
          kv,
          queue,
          now: now(),
          maxDelayMs,
        }, {
          tenant,
          event: exec.event,
          queueName: name,
          groups,
          count: 1,
        });
        const placed = plan.place([{ id: eventId, value: item }]);
        const batch = new WriteBatch(kv);
        append(id, () => placed.write(batch));
        if ((await batch.commit()).ok) {
          return c.json({
            accepted: 1,
            ids: placed.ids,
            rerunOf: id,
            ...(placed.runAt !== undefined &&
              { runAt: new Date(placed.runAt).toISOString() }),
          });
        }
        if (tries >= MAX_REPLANS || !(await plan.changed())) {
          throw new Error("Queueing the re-run failed");
        }
      }
    },
  );
  /** Runs `write`; a re-run too big for one write is a 409 naming it. */
  function append(id: string, write: () => void): void {
    try {
      write();
    } catch (err) {
      // Not expected: it fitted one write when it was first queued.
      if (err instanceof KvLimitError) {
        throw new ConflictError(
          `Execution "${id}" cannot be re-run: its input does not fit a queued event (${err.message})`,
        );
      }
      throw err;
    }
  }
  return app;
}

const DOCS = {
  cancel: describeRoute({
    operationId: "cancelEvent",
    tags: ["events"],
    summary: "Cancel a waiting or delayed event item",
    description:
      "Removes an item that waits in its queue or was put off with " +
      "`?delay=` / `?runAt=`, so that it never runs. An item already " +
      "running cannot be cancelled (409); one waiting for a retry ran " +
      "already and is not found (404).",
    parameters: [
      PATH.tenant,
      PATH.event,
      {
        name: "id",
        in: "path",
        required: true,
        description:
          "The event id the webhook answered with (19 lowercase letters and digits)",
        schema: { type: "string", pattern: NAME_PATTERN },
      },
    ],
    responses: {
      200: json("Cancelled", ref("Cancelled")),
      ...problems(
        400,
        401,
        403,
        [404, "No such tenant or event, or no such item waiting"],
        [409, "The item is running"],
      ),
    },
  }),
  rerun: describeRoute({
    operationId: "rerunExecution",
    tags: ["executions"],
    summary: "Re-run a recorded execution with its input",
    description:
      "Queues the input the execution ran with as a new item of its event " +
      "(the current version of its package, its current schema), marked " +
      "`rerunOf` in the new execution's record. The event's `rateLimit` " +
      "and `debounce` apply as to a webhook request: over a `reject` " +
      "limit it is a 429 with `Retry-After`; `throttle` or a debounce put " +
      "it off (`runAt`).",
    parameters: [
      PATH.tenant,
      {
        name: "id",
        in: "path",
        required: true,
        description: "The execution id (19 lowercase letters and digits)",
        schema: { type: "string", pattern: NAME_PATTERN },
      },
    ],
    responses: {
      200: json("Queued", ref("Rerun")),
      ...problems(
        400,
        401,
        403,
        [404, "No such tenant, execution or event"],
        [409, "The record did not keep its input"],
        [422, "The input no longer matches the event's schema"],
        [
          429,
          "The event's queue holds too many events, or its rate limit " +
          "(`reject`) is reached for the input's key",
        ],
      ),
    },
  }),
};
