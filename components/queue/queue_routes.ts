/**
 * The queue API under /api/v1: what each queue of a tenant holds and has
 * done, and its dead letters (events whose runtime failed them more often
 * than its `retries` allow), which can be listed, replayed and purged.
 *
 * A tenant's queues are those its current packages declare plus those
 * that hold or held items (a queue of a deleted package keeps its dead
 * letters until they are purged).
 */
import { Hono } from "hono";
import {
  type DeadLetter,
  type DurableQueue,
  NotFoundError,
  type QueueStats,
  ValidationError,
} from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import { pageLimit } from "../page_limit.ts";
import type { PackageStore } from "../ctl/package_store.ts";
import { queueName } from "../keys.ts";
import { readBody } from "../read_body.ts";
import type { EventItem } from "./event_item.ts";

/** One queue in `GET .../queues`. */
export interface QueueView extends QueueStats {
  id: string;
}

/** One dead letter in `GET .../queues/{queue}/dead`. */
export interface DeadLetterView {
  /** The queue item's id: what replay and purge take. */
  id: string;
  eventId: string;
  event: string;
  package: string;
  version: number;
  attempt: number;
  failures: number;
  /** The last failure's reason. */
  error: string;
  /** ISO 8601. */
  failedAt: string;
  /** The last execution's id, when it was recorded. */
  executionId: string | null;
  data: unknown;
}

/** Most ids in one replay or purge request. */
const MAX_IDS = 1000;
const MAX_BODY = 64 * 1024;
/** Cursors of `Deno.Kv.list` are base64. */
const CURSOR = /^[A-Za-z0-9+/_-]{1,2048}={0,2}$/;

export function queueApp(
  store: PackageStore,
  queue: DurableQueue<EventItem>,
): Hono {
  const app = new Hono();

  /** Ids of the tenant's queues, sorted, and whether the tenant has packages. */
  async function queueIds(
    tenant: string,
  ): Promise<{ ids: string[]; hasPackages: boolean }> {
    const heads = await store.list(tenant);
    const versions = await Promise.all(
      heads.map((h) => store.version(tenant, h.id, h.version)),
    );
    const ids = new Set<string>();
    for (const v of versions) {
      for (const q of v?.package.queues ?? []) ids.add(q.id);
    }
    const prefix = queueName(tenant, "");
    for (const name of await queue.queueNames(prefix)) {
      ids.add(name.slice(prefix.length));
    }
    return { ids: [...ids].sort(), hasPackages: heads.length > 0 };
  }

  /** The tenant and queue of the path, or a 404 naming the queue. */
  async function knownQueue(
    tenantParam: string,
    queueParam: string,
  ): Promise<{ tenant: string; id: string; name: string }> {
    const tenant = checkName("tenant", tenantParam);
    const id = checkName("queue id", queueParam);
    const { ids } = await queueIds(tenant);
    if (!ids.includes(id)) {
      throw new NotFoundError(`Tenant "${tenant}" has no queue "${id}"`);
    }
    return { tenant, id, name: queueName(tenant, id) };
  }

  const view = async (tenant: string, id: string): Promise<QueueView> => ({
    id,
    ...await queue.stats(queueName(tenant, id)),
  });

  app.get("/api/v1/tenants/:tenant/queues", async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const { ids, hasPackages } = await queueIds(tenant);
    if (ids.length === 0 && !hasPackages) {
      throw new NotFoundError(`Unknown tenant "${tenant}"`);
    }
    return c.json({
      queues: await Promise.all(ids.map((id) => view(tenant, id))),
    });
  });

  app.get("/api/v1/tenants/:tenant/queues/:queue", async (c) => {
    const { tenant, id } = await knownQueue(
      c.req.param("tenant"),
      c.req.param("queue"),
    );
    return c.json(await view(tenant, id));
  });

  app.get("/api/v1/tenants/:tenant/queues/:queue/dead", async (c) => {
    const limit = pageLimit(c.req.query("limit"));
    const cursor = c.req.query("cursor") || undefined;
    const badCursor = () =>
      new ValidationError(
        `Invalid cursor "${cursor}": pass the cursor of a previous page`,
      );
    if (cursor !== undefined && !CURSOR.test(cursor)) throw badCursor();
    const { name } = await knownQueue(
      c.req.param("tenant"),
      c.req.param("queue"),
    );
    let page;
    try {
      page = await queue.listDead(name, { limit, cursor });
    } catch (err) {
      // The store decodes the cursor only when it lists.
      if (cursor && err instanceof TypeError && /cursor/i.test(err.message)) {
        throw badCursor();
      }
      throw err;
    }
    return c.json({ dead: page.letters.map(deadView), cursor: page.cursor });
  });

  app.post("/api/v1/tenants/:tenant/queues/:queue/dead/replay", async (c) => {
    const { name } = await knownQueue(
      c.req.param("tenant"),
      c.req.param("queue"),
    );
    const ids = idsOf(
      await readBody(c.req.raw, MAX_BODY, "Replay body"),
      "Replay",
    );
    const replayed = await queue.replayDead(name, ids);
    const done = new Set(replayed);
    return c.json({
      replayed: replayed.length,
      ids: replayed,
      // Ids that were not dead letters (or stopped being one meanwhile).
      notFound: [...new Set(ids ?? [])].filter((id) => !done.has(id)),
    });
  });

  app.delete("/api/v1/tenants/:tenant/queues/:queue/dead", async (c) => {
    const { name } = await knownQueue(
      c.req.param("tenant"),
      c.req.param("queue"),
    );
    const fromBody = idsOf(
      await readBody(c.req.raw, MAX_BODY, "Purge body"),
      "Purge",
    );
    const fromQuery = c.req.queries("id");
    if (fromBody && fromQuery) {
      throw new ValidationError(
        'Pass the ids either as "ids" in the body or as ?id= parameters, not both',
      );
    }
    const ids = fromBody ??
      (fromQuery ? checkIds(fromQuery, "?id=") : undefined);
    return c.json({ purged: await queue.purgeDead(name, ids) });
  });
  return app;
}

function deadView(l: DeadLetter<EventItem>): DeadLetterView {
  const v = l.item.value;
  return {
    id: l.item.id,
    eventId: v.eventId,
    event: v.event,
    package: v.package,
    version: v.version,
    attempt: l.item.attempt,
    failures: l.item.failures,
    error: l.error,
    failedAt: new Date(l.failedAt).toISOString(),
    executionId: l.ref ?? null,
    data: v.data,
  };
}

/**
 * The ids of a replay or purge body: undefined (every dead letter) for no
 * body or `{}`, else the `ids` list, checked.
 */
function idsOf(text: string, what: string): string[] | undefined {
  if (text.trim() === "") return undefined;
  const shape = `${what} body must be JSON like {"ids": ["..."]}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError(`${shape}; it is not valid JSON`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError(`${shape}; it is not an object`);
  }
  const extra = Object.keys(body).filter((k) => k !== "ids");
  if (extra.length > 0) {
    throw new ValidationError(
      `${shape}; unknown member "${extra[0]}"`,
    );
  }
  const ids = (body as { ids?: unknown }).ids;
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids)) {
    throw new ValidationError(`${shape}; "ids" is not a list`);
  }
  return checkIds(ids, '"ids"');
}

function checkIds(ids: unknown[], where: string): string[] {
  if (ids.length === 0) {
    throw new ValidationError(
      `${where} is empty: leave it out to take every dead letter`,
    );
  }
  if (ids.length > MAX_IDS) {
    throw new ValidationError(
      `${where} has ${ids.length} ids; the limit is ${MAX_IDS} per request`,
    );
  }
  ids.forEach((id, i) => {
    if (typeof id !== "string") {
      throw new ValidationError(`Item ${i} of ${where} is not a string`);
    }
    checkName("dead letter id", id);
  });
  return ids as string[];
}
