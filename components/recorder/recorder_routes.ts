/**
 * The recorder's API: query executions with paging and filters, and follow
 * them live over Server-Sent Events.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { sseResponse, ValidationError } from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import {
  EXECUTION_FILTERS,
  json,
  LIMIT,
  PATH,
  problems,
  ref,
} from "../openapi/schemas.ts";
import { pageLimit } from "../page_limit.ts";
import type { Execution } from "./execution.ts";
import {
  type ExecutionFilter,
  type ExecutionStore,
  matches,
} from "./execution_store.ts";

const STATUSES = ["ok", "error", "failed"];

function filterOf(q: (name: string) => string | undefined): ExecutionFilter {
  const status = q("status");
  if (status !== undefined && !STATUSES.includes(status)) {
    throw new ValidationError(
      `Invalid status "${status}": use ok, error or failed`,
    );
  }
  const pkg = q("package");
  const event = q("event");
  if (pkg) checkName("package id", pkg);
  if (event) checkName("event id", event);
  return {
    package: pkg || undefined,
    event: event || undefined,
    status: status as Execution["status"] | undefined,
  };
}

export function recorderApp(
  store: ExecutionStore,
  shutdown: AbortSignal,
): Hono {
  const app = new Hono();

  app.get("/api/v1/tenants/:tenant/executions", DOCS.list, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const limit = pageLimit(c.req.query("limit"));
    const page = await store.list(tenant, {
      ...filterOf((n) => c.req.query(n)),
      limit,
      cursor: c.req.query("cursor") || undefined,
    });
    return c.json(page);
  });

  app.get(
    "/api/v1/tenants/:tenant/executions/stream",
    DOCS.stream,
    async (c) => {
      const tenant = checkName("tenant", c.req.param("tenant"));
      const filter = filterOf((n) => c.req.query(n));
      // Resume after Last-Event-ID when the client reconnects; otherwise only new executions.
      const resume = c.req.header("last-event-id");
      let last = resume && /^[0-9a-z]{19}$/.test(resume)
        ? resume
        : await store.latestId(tenant);
      // A client that leaves cancels the body stream, which stops the producer.
      return sseResponse({ signal: shutdown }, async (send, stop) => {
        for await (const _ of store.feed(tenant).changes(stop)) {
          for (const e of await store.since(tenant, last)) {
            last = e.id;
            if (!matches(e, filter)) continue;
            send({ event: "execution", id: e.id, data: JSON.stringify(e) });
          }
        }
      });
    },
  );
  return app;
}

/** The API description of each route (components/openapi). */
const DOCS = {
  list: describeRoute({
    operationId: "listExecutions",
    tags: ["executions"],
    summary: "List a tenant's executions, newest first",
    parameters: [
      PATH.tenant,
      LIMIT,
      {
        name: "cursor",
        in: "query",
        description: "The `cursor` of the previous page",
        schema: { type: "string", pattern: "^[0-9a-z]{19}$" },
      },
      ...EXECUTION_FILTERS,
    ],
    responses: {
      200: json("A page of executions", ref("ExecutionPage")),
      ...problems([400, "A bad name, limit, cursor or filter"], 401, 403),
    },
  }),
  stream: describeRoute({
    operationId: "streamExecutions",
    tags: ["executions"],
    summary: "Follow a tenant's executions live (Server-Sent Events)",
    description:
      "Each new execution that passes the filters is an `execution` event " +
      "whose `id` is the execution's and whose `data` is the execution as " +
      "JSON (`Execution`). A client that reconnects with `Last-Event-ID` " +
      "gets what it missed; otherwise only new executions come. Comment " +
      "lines keep the connection alive.",
    parameters: [
      PATH.tenant,
      ...EXECUTION_FILTERS,
      {
        name: "Last-Event-ID",
        in: "header",
        description: "The last execution id received",
        schema: { type: "string" },
      },
    ],
    responses: {
      200: {
        description: "The stream; it ends when the client leaves",
        content: {
          "text/event-stream": {
            schema: {
              type: "string",
              description: "event: execution / id: <id> / data: <Execution>",
            },
          },
        },
      },
      ...problems([400, "A bad name or filter"], 401, 403),
    },
  }),
};
