/**
 * The API description of `POST /events/{tenant}/{event}`
 * (components/openapi assembles the document).
 */
import { describeRoute } from "hono-openapi";
import { json, PATH, problems, ref } from "../openapi/schemas.ts";
import { IDEMPOTENCY_KEY } from "./idempotency_key.ts";
import { API_LIMITS } from "../../api/mod.ts";

/** The route's `describeRoute`. */
export const SEND_EVENT_DOC = describeRoute({
  operationId: "sendEvent",
  tags: ["events"],
  summary: "Send event items",
  description:
    "Each item is validated against the event's schema; all are queued in " +
    "one write, and only then is the answer 200. At most 1 MiB, " +
    `${API_LIMITS.eventItems} items ` +
    "and 64 levels of nesting.\n\n" +
    "**Authentication** is what the event's definition says (`auth`): " +
    "`token` (the default), `Authorization: Bearer` with the tenant's token " +
    "or the admin's; `hmac`, a `Jobico-Signature` made with the tenant's " +
    "webhook secret (each signed request is accepted once), or a token; " +
    "`public`, nothing. An unknown event answers as `token` would before it " +
    "says 404, so only a caller with a token learns what exists.",
  security: [{ bearerAuth: [] }, { webhookSignature: [] }, {}],
  parameters: [
    PATH.tenant,
    PATH.event,
    {
      name: "Idempotency-Key",
      in: "header",
      description:
        "The same key for the same tenant and event within 24 hours " +
        "answers the first answer again (with `idempotent-replayed: true`) " +
        "and queues nothing new",
      schema: { type: "string", pattern: IDEMPOTENCY_KEY.source },
    },
    {
      name: "delay",
      in: "query",
      description:
        "Run the items this long from now: whole seconds, or with a unit " +
        "(`1500ms`, `30s`, `5m`, `2h`, `1d`); at most 30 days unless the " +
        "platform says otherwise. Delayed items wait durably and can be " +
        "cancelled until they run",
      schema: { type: "string", pattern: "^[0-9]{1,15}(ms|s|m|h|d)?$" },
    },
    {
      name: "runAt",
      in: "query",
      description:
        "Run the items at this time (RFC 3339 with its offset); not more " +
        "than a minute in the past, not beyond the longest delay. Not " +
        "with `delay`",
      schema: { type: "string", format: "date-time" },
    },
    {
      name: "priority",
      in: "query",
      description:
        "The items' priority in their queue, over the event's own: higher " +
        "ones are leased before older lower ones, which rise a level per " +
        "aging period waited (README: Priority)",
      schema: { type: "string", enum: ["high", "normal", "low"] },
    },
  ],
  requestBody: {
    required: true,
    content: { "application/json": { schema: ref("EventBody") } },
  },
  responses: {
    200: {
      ...json("Queued: one event id per item", ref("Accepted")),
      headers: {
        "idempotent-replayed": {
          description: "`true` when this is the answer to an earlier request",
          schema: { type: "string", enum: ["true"] },
        },
      },
    },
    ...problems(
      [
        400,
        "A malformed body, an empty `data`, a bad Idempotency-Key, a bad " +
        "`delay`, `runAt` or `priority` (`errors` names the parameter), or an " +
        "item that fails the schema (`errors` names each item and path)",
      ],
      [401, "Missing or wrong credentials, or a signed request seen before"],
      [403, "Another tenant's token"],
      [404, "No such tenant or event"],
      [413, "The body, the item count or the write is too large"],
      [
        429,
        "The queue holds too many events, or the event's rate limit refuses them (README: Rate limits and debounce); see Retry-After",
      ],
    ),
  },
});
