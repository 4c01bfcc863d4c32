/**
 * The queue API under /api/v1: what each queue of a tenant holds and has
 * done, and its dead letters (events whose runtime failed them more often
 * than its `retries` allow), which can be listed, replayed and purged.
 *
 * A tenant's queues are those its current packages declare plus those
 * that hold or held items (a queue of a deleted package keeps its dead
 * letters until they are purged).
 */
import { type Context, type Env, Hono } from "hono";
import { describeRoute } from "hono-openapi";
import {
  type DeadLetter as QueuedDeadLetter,
  type DurableQueue,
  NotFoundError,
  ValidationError,
} from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import {
  CURSOR_PATTERN,
  json,
  LIMIT,
  NAME_PATTERN,
  PATH,
  problems,
  ref,
} from "../openapi/schemas.ts";
import {
  API_LIMITS,
  type DeadLetter,
  DeadLetterIdList,
  DeadLetterIds,
  kib,
  type Queue,
} from "../../api/mod.ts";
import { ApiCheck, type ApiIssue } from "../http/api_check.ts";
import { pageLimit } from "../http/page_limit.ts";
import type { PackageStore } from "../packages/package_store.ts";
import {
  queueRefOf,
  queueStorageName,
  tenantQueuesPrefix,
} from "../model/queue_ref.ts";
import { readBody } from "../http/read_body.ts";
import type { EventItem } from "../model/event_item.ts";
import { PinDeltas } from "../packages/version_pins.ts";

/** One queue in `GET .../queues` (the API's `Queue`). */
export type QueueView = Queue;
/** One dead letter in `GET .../queues/{queue}/dead` (the API's `DeadLetter`). */
export type DeadLetterView = DeadLetter;

/** Most ids in one replay or purge request (the schema's `maxItems`). */
const MAX_IDS = API_LIMITS.deadLetterIds;
const MAX_BODY = API_LIMITS.deadLetterBodyBytes;
/** Cursors of `Deno.Kv.list` are base64. */
const CURSOR = new RegExp(CURSOR_PATTERN);

export function queueApp(
  store: PackageStore,
  queue: DurableQueue<EventItem>,
): Hono {
  const app = new Hono();
  const checks: IdChecks = {
    body: new ApiCheck(DeadLetterIds),
    list: new ApiCheck(DeadLetterIdList),
  };

  /** Ids of the tenant's queues, sorted. */
  async function queueIds(tenant: string): Promise<{ ids: string[] }> {
    const heads = await store.list(tenant);
    const versions = await Promise.all(
      heads.map((h) => store.version(tenant, h.id, h.version)),
    );
    const ids = new Set<string>();
    for (const v of versions) {
      for (const q of v?.package.queues ?? []) ids.add(q.id);
    }
    for (const name of await queue.queueNames(tenantQueuesPrefix(tenant))) {
      ids.add(queueRefOf(name).queue);
    }
    return { ids: [...ids].sort() };
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
    return { tenant, id, name: queueStorageName({ tenant, queue: id }) };
  }

  /**
   * A page of the queue in the path: the request's `limit` and `cursor`
   * given to `list`; a cursor that is not one, or that the store cannot
   * read, is a 400 naming it.
   */
  async function queuePage<P>(
    c: Context<Env, "/api/v1/tenants/:tenant/queues/:queue/*">,
    list: (
      name: string,
      options: { limit: number; cursor?: string },
    ) => Promise<P>,
  ): Promise<P> {
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
    try {
      return await list(name, { limit, cursor });
    } catch (err) {
      // The store decodes the cursor only when it lists.
      if (cursor && err instanceof TypeError && /cursor/i.test(err.message)) {
        throw badCursor();
      }
      throw err;
    }
  }

  const view = async (tenant: string, id: string): Promise<QueueView> => ({
    id,
    ...await queue.stats(queueStorageName({ tenant, queue: id })),
  });

  app.get("/api/v1/tenants/:tenant/queues", DOCS.list, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    // An unknown tenant is a 404 before this (http/known_tenant.ts).
    const { ids } = await queueIds(tenant);
    return c.json({
      queues: await Promise.all(ids.map((id) => view(tenant, id))),
    });
  });

  app.get("/api/v1/tenants/:tenant/queues/:queue", DOCS.show, async (c) => {
    const { tenant, id } = await knownQueue(
      c.req.param("tenant"),
      c.req.param("queue"),
    );
    return c.json(await view(tenant, id));
  });

  app.get(
    "/api/v1/tenants/:tenant/queues/:queue/dead",
    DOCS.dead,
    async (c) => {
      const page = await queuePage(c, (name, o) => queue.listDead(name, o));
      return c.json({ dead: page.letters.map(deadView), cursor: page.cursor });
    },
  );

  app.get(
    "/api/v1/tenants/:tenant/queues/:queue/delayed",
    DOCS.delayed,
    async (c) => {
      const page = await queuePage(c, (name, o) => queue.listDelayed(name, o));
      return c.json({
        delayed: page.items.map(({ item, dueAt }) => ({
          id: item.id,
          event: item.value.event,
          runAt: new Date(dueAt).toISOString(),
        })),
        cursor: page.cursor,
      });
    },
  );

  app.post(
    "/api/v1/tenants/:tenant/queues/:queue/dead/replay",
    DOCS.replay,
    async (c) => {
      const { name } = await knownQueue(
        c.req.param("tenant"),
        c.req.param("queue"),
      );
      const ids = idsOf(
        checks,
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
    },
  );

  app.delete(
    "/api/v1/tenants/:tenant/queues/:queue/dead",
    DOCS.purge,
    async (c) => {
      const { name } = await knownQueue(
        c.req.param("tenant"),
        c.req.param("queue"),
      );
      const fromBody = idsOf(
        checks,
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
        (fromQuery ? checkIds(checks, fromQuery, "?id=") : undefined);
      // The versions the purged events were accepted under are free of them.
      const purged = await queue.purgeDead(
        name,
        ids,
        (batch, item) => new PinDeltas().add(item.value, -1).write(batch),
      );
      return c.json({ purged });
    },
  );
  return app;
}

function deadView(l: QueuedDeadLetter<EventItem>): DeadLetterView {
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

/** Checks of a replay or purge's ids (api/queue_schemas.ts), compiled once. */
interface IdChecks {
  body: ApiCheck<typeof DeadLetterIds>;
  list: ApiCheck<typeof DeadLetterIdList>;
}

/**
 * The ids of a replay or purge body: undefined (every dead letter) for no
 * body or `{}`, else the `ids` list, checked.
 */
function idsOf(
  checks: IdChecks,
  text: string,
  what: string,
): string[] | undefined {
  if (text.trim() === "") return undefined;
  const shape = `${what} body must be JSON like {"ids": ["..."]}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError(`${shape}; it is not valid JSON`);
  }
  const issue = checks.body.issue(body);
  if (issue?.path.length === 0) {
    throw new ValidationError(
      issue.keyword === "additionalProperties"
        ? `${shape}; unknown member "${issue.member}"`
        : `${shape}; it is not an object`,
    );
  }
  if (issue?.path.length === 1 && issue.keyword === "type") {
    throw new ValidationError(`${shape}; "ids" is not a list`);
  }
  if (issue) throw idsIssue({ ...issue, path: issue.path.slice(1) }, '"ids"');
  return (body as DeadLetterIds).ids;
}

/** `ids` (from `?id=`), checked. */
function checkIds(checks: IdChecks, ids: string[], where: string): string[] {
  const issue = checks.list.issue(ids);
  if (issue) throw idsIssue(issue, where);
  return ids;
}

/** The sentence of an issue of an id list (`path` from the list). */
function idsIssue(issue: ApiIssue, where: string): ValidationError {
  const ids = issue.value as unknown[];
  switch (issue.keyword) {
    case "minItems":
      return new ValidationError(
        `${where} is empty: leave it out to take every dead letter`,
      );
    case "maxItems":
      return new ValidationError(
        `${where} has ${ids.length} ids; the limit is ${issue.schema.maxItems} per request`,
      );
    case "type":
      return new ValidationError(
        `Item ${issue.path[0]} of ${where} is not a string`,
      );
    default:
      // A bad name: the same sentence as every name's.
      checkName("dead letter id", String(issue.value));
      return new ValidationError(`Invalid dead letter id in ${where}`);
  }
}

const IDS_BODY = {
  required: false,
  content: { "application/json": { schema: ref("DeadLetterIds") } },
};

/** The API description of each route (components/openapi). */
const DOCS = {
  list: describeRoute({
    operationId: "listQueues",
    tags: ["queues"],
    summary: "List a tenant's queues and what they hold",
    description:
      "The queues its current packages declare and those that hold or held " +
      "events (a deleted package's queue keeps its dead letters).",
    parameters: [PATH.tenant],
    responses: {
      200: json("Each queue, by id", ref("QueueList")),
      ...problems(400, 401, 403, [404, "No such tenant"]),
    },
  }),
  show: describeRoute({
    operationId: "getQueue",
    tags: ["queues"],
    summary: "Show one queue",
    parameters: [PATH.tenant, PATH.queue],
    responses: {
      200: json("What it holds and has done", ref("Queue")),
      ...problems(400, 401, 403, [404, "The tenant has no such queue"]),
    },
  }),
  delayed: describeRoute({
    operationId: "listDelayedEvents",
    tags: ["queues"],
    summary: "List a queue's delayed events",
    description:
      "Items sent with `?delay=` or `?runAt=` that have not run yet, in " +
      "the order they were accepted, each with its event and when it runs " +
      "(cancel one with `DELETE .../events/{event}/items/{id}`). Items " +
      "waiting for a retry are not listed: they ran.",
    parameters: [
      PATH.tenant,
      PATH.queue,
      LIMIT,
      {
        name: "cursor",
        in: "query",
        description: "The `cursor` of the previous page",
        schema: { type: "string", pattern: CURSOR.source },
      },
    ],
    responses: {
      200: json("A page of delayed events", ref("DelayedPage")),
      ...problems(400, 401, 403, [404, "The tenant has no such queue"]),
    },
  }),
  dead: describeRoute({
    operationId: "listDeadLetters",
    tags: ["queues"],
    summary: "List a queue's dead letters",
    description:
      "Events whose runtime failed them more often than its `retries` allow, oldest first.",
    parameters: [
      PATH.tenant,
      PATH.queue,
      LIMIT,
      {
        name: "cursor",
        in: "query",
        description: "The `cursor` of the previous page",
        schema: { type: "string", pattern: CURSOR_PATTERN },
      },
    ],
    responses: {
      200: json("A page of dead letters", ref("DeadLetterPage")),
      ...problems(
        [400, "A bad name, limit or cursor"],
        401,
        403,
        [404, "The tenant has no such queue"],
      ),
    },
  }),
  replay: describeRoute({
    operationId: "replayDeadLetters",
    tags: ["queues"],
    summary: "Put dead letters back on their queue",
    description:
      'With `{"ids": [...]}` those dead letters, with no body every one. ' +
      `The body is at most ${kib(MAX_BODY)}, with at most ${MAX_IDS} ids.`,
    parameters: [PATH.tenant, PATH.queue],
    requestBody: IDS_BODY,
    responses: {
      200: json("What was replayed", ref("Replayed")),
      ...problems(
        [400, "A bad name or body"],
        401,
        403,
        [404, "The tenant has no such queue"],
        413,
      ),
    },
  }),
  purge: describeRoute({
    operationId: "purgeDeadLetters",
    tags: ["queues"],
    summary: "Remove dead letters",
    description:
      'With `{"ids": [...]}` or `?id=` (repeated) those dead letters, with ' +
      `neither every one. The body is at most ${
        kib(MAX_BODY)
      }, with at most ${MAX_IDS} ids.`,
    parameters: [
      PATH.tenant,
      PATH.queue,
      {
        name: "id",
        in: "query",
        description: "A dead letter to remove (instead of a body)",
        style: "form",
        explode: true,
        schema: {
          type: "array",
          minItems: 1,
          maxItems: MAX_IDS,
          items: { type: "string", pattern: NAME_PATTERN },
        },
      },
    ],
    requestBody: IDS_BODY,
    responses: {
      200: json("How many were removed", ref("Purged")),
      ...problems(
        [400, "A bad name, body or id, or ids in both the body and the query"],
        401,
        403,
        [404, "The tenant has no such queue"],
        413,
      ),
    },
  }),
};
