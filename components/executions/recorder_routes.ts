/**
 * The recorder's API: query executions with paging and filters, and follow
 * them live over Server-Sent Events.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { ValidationError } from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import {
  EXECUTION_FILTERS,
  ID19_PATTERN,
  json,
  LIMIT,
  PATH,
  problems,
  ref,
} from "../openapi/schemas.ts";
import { pageLimit } from "../http/page_limit.ts";
import { ExecutionStatus } from "../../api/mod.ts";
import type { Execution } from "./execution.ts";
import type { ExecutionFilter, ExecutionStore } from "./execution_store.ts";
import {
  DEFAULT_MAX_STREAMS,
  DEFAULT_MAX_STREAMS_PER_TENANT,
  DEFAULT_STREAM_BUFFER_BYTES,
  type ExecutionStreams,
} from "./execution_streams.ts";

/** The statuses a filter takes: the API's `ExecutionStatus`. */
const STATUSES: readonly string[] = ExecutionStatus.enum;
const EXECUTION_ID = new RegExp(ID19_PATTERN);

function filterOf(q: (name: string) => string | undefined): ExecutionFilter {
  const status = q("status");
  if (status !== undefined && !STATUSES.includes(status)) {
    throw new ValidationError(
      `Invalid status "${status}": use ${STATUSES.slice(0, -1).join(", ")} or ${
        STATUSES.at(-1)
      }`,
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
  streams: ExecutionStreams,
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

  app.get("/api/v1/tenants/:tenant/executions/stream", DOCS.stream, (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const filter = filterOf((n) => c.req.query(n));
    // Resume after Last-Event-ID when the client reconnects; otherwise only new executions.
    const resume = c.req.header("last-event-id")?.trim() || null;
    if (resume !== null && !EXECUTION_ID.test(resume)) {
      throw new ValidationError(
        `Invalid Last-Event-ID "${resume}": send the id of the last execution event received`,
      );
    }
    // Checked again while the stream lasts (token rotation, deletion).
    const credential = c.req.header("authorization") ?? null;
    return streams.open(tenant, filter, resume, credential);
  });
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
        schema: { type: "string", pattern: ID19_PATTERN },
      },
      ...EXECUTION_FILTERS,
    ],
    responses: {
      200: json("A page of executions", ref("ExecutionPage")),
      ...problems(
        [400, "A bad name, limit, cursor or filter"],
        401,
        403,
        [404, "No such tenant"],
      ),
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
      "gets what it missed, in order; otherwise only new executions come. " +
      "Comment lines keep the connection alive.\n\n" +
      "Limits: a tenant may hold " +
      `${DEFAULT_MAX_STREAMS_PER_TENANT} streams open at once and the server ` +
      `${DEFAULT_MAX_STREAMS} in all (the defaults; the operator sets them ` +
      "with `JOBICO_MAX_STREAMS_PER_TENANT` and `JOBICO_MAX_STREAMS`); past " +
      "either, the answer is 429 with `Retry-After` and a problem whose " +
      "`limit` names it (`maxStreamsPerTenant` or `maxStreams`). " +
      `At most ${DEFAULT_STREAM_BUFFER_BYTES / 1024} KiB ` +
      "(`JOBICO_STREAM_BUFFER_KB`) wait for a client: one that falls " +
      "further behind gets a last `dropped` event (its `data` says why and " +
      "the last id sent) and the stream ends; reconnecting with " +
      "`Last-Event-ID` loses nothing. A client that does not even take that " +
      "event within a few seconds has its connection closed.",
    parameters: [
      PATH.tenant,
      ...EXECUTION_FILTERS,
      {
        name: "Last-Event-ID",
        in: "header",
        description:
          "The id of the last execution event received: the stream starts after it",
        schema: { type: "string", pattern: ID19_PATTERN },
      },
    ],
    responses: {
      200: {
        description:
          "The stream; it ends when the client leaves, when the client falls behind (after a `dropped` event) or when the server shuts down",
        content: {
          "text/event-stream": {
            schema: {
              type: "string",
              description:
                "event: execution / id: <id> / data: <Execution>; last, when dropped: event: dropped / data: {reason, lastEventId, hint}",
            },
          },
        },
      },
      ...problems(
        [400, "A bad name, filter or Last-Event-ID"],
        401,
        403,
        [404, "No such tenant"],
        [
          429,
          "The tenant, or the server, has as many streams open as it may; see Retry-After and `limit`",
        ],
      ),
    },
  }),
};
