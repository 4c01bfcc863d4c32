/**
 * The listener: `POST /events/{tenant}/{event}` with `{"data": [item, ...]}`.
 * Each item is validated with the event's compiled schema; all items are
 * appended to the event's queue in one atomic write, and only then does it
 * answer 200 with their ids.
 */
import { Hono } from "hono";
import {
  type DurableQueue,
  monotonicId,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import type { Definitions } from "../ctl/definitions.ts";
import type { PackageStore } from "../ctl/package_store.ts";
import { queueName } from "../keys.ts";
import type { EventItem } from "../queue/event_item.ts";
import { readBody } from "../read_body.ts";
import { describeSchemaError } from "../repo/describe_schema_error.ts";

export interface ListenerOptions {
  kv: Deno.Kv;
  definitions: Definitions;
  store: PackageStore;
  queue: DurableQueue<EventItem>;
  /** Largest request body. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Most items in one request. Default 1000. */
  maxItems?: number;
  /** Makes event ids. Default `monotonicId`. */
  newId?: () => string;
}

export function listenerApp(options: ListenerOptions): Hono {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxItems = options.maxItems ?? 1000;
  const newId = options.newId ?? monotonicId;
  const app = new Hono();

  app.post("/events/:tenant/:event", async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const event = checkName("event id", c.req.param("event"));
    const route = await options.definitions.route(tenant, event);
    if (!route) {
      if (!(await options.store.tenantExists(tenant))) {
        throw new NotFoundError(`Unknown tenant "${tenant}"`);
      }
      throw new NotFoundError(`Tenant "${tenant}" has no event "${event}"`);
    }
    const text = await readBody(c.req.raw, maxBody, "Event body");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new ValidationError(
        `Event body is not valid JSON: ${(err as Error).message}`,
      );
    }
    const data = (body as { data?: unknown })?.data;
    if (typeof body !== "object" || body === null || !Array.isArray(data)) {
      throw new ValidationError(
        'Event body must be an object with a "data" list: {"data": [item, ...]}',
      );
    }
    if (data.length === 0) {
      throw new ValidationError(
        'The "data" list is empty: send at least one item',
      );
    }
    if (data.length > maxItems) {
      throw new PayloadTooLargeError(
        `The "data" list has ${data.length} items; the limit is ${maxItems} per request`,
      );
    }
    const errors: { item: number; path: string; message: string }[] = [];
    data.forEach((item, i) => {
      if (!route.validate(item)) {
        for (const e of route.validate.errors ?? []) {
          errors.push({ item: i, ...describeSchemaError(e) });
        }
      }
    });
    if (errors.length > 0) {
      const first = errors[0];
      throw new ValidationError(
        `Item ${first.item} of "data" does not match schema "${route.event.schema.schemaref}": ` +
          `${first.path} ${first.message}` +
          (errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""),
        { errors },
      );
    }
    const ids = data.map(() => newId());
    const items = data.map((d, i) => ({
      id: ids[i],
      value: {
        tenant,
        package: route.package,
        version: route.version,
        event,
        eventId: ids[i],
        data: d,
      } satisfies EventItem,
    }));
    const op = options.queue.append(
      options.kv.atomic(),
      queueName(tenant, route.event.supplierqueue),
      items,
    );
    const res = await op.commit();
    if (!res.ok) throw new Error("Appending events to the queue failed");
    return c.json({ accepted: ids.length, ids });
  });
  return app;
}
