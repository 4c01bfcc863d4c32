/**
 * The listener: `POST /events/{tenant}/{event}` with `{"data": [item, ...]}`.
 * Each item is validated with the event's compiled schema; all items are
 * appended to the event's queue in one atomic write, and only then does it
 * answer 200 with their ids. A queue that holds `maxQueueDepth` items
 * refuses more with a 429 and a `Retry-After` (see `BacklogGauge`); nothing
 * of a refused request is queued.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import {
  type DurableQueue,
  GroupCommit,
  monotonicId,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  ValidationError,
} from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import type { Definitions } from "../packages/definitions.ts";
import type { PackageStore } from "../packages/package_store.ts";
import { keys } from "../model/keys.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import { json, PATH, problems, ref } from "../openapi/schemas.ts";
import type { EventItem } from "../model/event_item.ts";
import { parseJsonBody } from "../http/parse_json_body.ts";
import { decodeUtf8, readBody, readBytes } from "../http/read_body.ts";
import { describeSchemaError } from "../repo/describe_schema_error.ts";
import {
  PatternWorkError,
  withPatternDeadline,
} from "../repo/linear_regexp.ts";
import { BacklogGauge, retryAfterSeconds } from "./backlog_gauge.ts";
import { acceptWrite } from "./accept_write.ts";
import type { WebhookAuth } from "./webhook_auth.ts";
import type {
  PlatformMetrics,
  RejectReason,
} from "../observe/platform_metrics.ts";
import { currentTraceparent, inSpan, inSpanSync } from "../observe/tracing.ts";
import { registerCommitMetrics } from "../observe/commit_metrics.ts";

/** What the listener answers when it accepts items. */
export interface Accepted {
  accepted: number;
  ids: string[];
}

/** How long an Idempotency-Key is remembered. */
const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;

/**
 * What {@linkcode listenerApp} needs (the store, the definitions, the
 * queue, the credentials check) and the limits it holds requests to.
 *
 * @example
 * ```ts
 * app.route("/", listenerApp({
 *   kv,
 *   definitions,
 *   store,
 *   queue,
 *   auth: new WebhookAuth({ authenticator, tenants }),
 *   maxItems: 100,
 * }));
 * ```
 */
export interface ListenerOptions {
  /** The store the items are appended to. */
  kv: Deno.Kv;
  /** The deployed events: their queue, schema and auth. */
  definitions: Definitions;
  /** The package store (the version pins of accepted events). */
  store: PackageStore;
  /** The queues the items go to. */
  queue: DurableQueue<EventItem>;
  /** Checks each request's credentials as its event's `auth` says. */
  auth: WebhookAuth;
  /**
   * Largest request body, in bytes.
   *
   * @default {1048576}
   */
  maxBodyBytes?: number;
  /**
   * Most items in one request. All items of a request go in one atomic
   * write, so fewer or smaller ones may be refused with a 413 when they
   * would not fit one (see accept_write.ts).
   *
   * @default {500}
   */
  maxItems?: number;
  /**
   * Time the schema patterns of one request may take, in ms.
   *
   * @default {250}
   */
  validationMs?: number;
  /**
   * Makes event ids.
   *
   * @default {monotonicId}
   */
  newId?: () => string;
  /**
   * Items a queue may hold (waiting, delayed and in flight) before events
   * for it are refused with a 429.
   *
   * @default {100000}
   */
  maxQueueDepth?: number;
  /**
   * How long a queue's backlog read is reused, in ms (at most 100).
   *
   * @default {100}
   */
  backlogMaxAgeMs?: number;
  /**
   * Commits the writes of concurrent requests together (one storage commit
   * for many; each request's writes stay one all-or-nothing part, answered
   * 200 only once committed). Without, one of its own on `kv`.
   *
   * @default {new GroupCommit(kv)}
   */
  commits?: GroupCommit;
  /**
   * Counts accepted and refused events.
   *
   * @default {undefined}
   */
  metrics?: PlatformMetrics;
}

export function listenerApp(
  options: ListenerOptions,
): Hono<{ Variables: { knownTenant?: string } }> {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxItems = options.maxItems ?? 500;
  const validationMs = options.validationMs ?? 250;
  const newId = options.newId ?? monotonicId;
  const gauge = new BacklogGauge(options.queue, {
    limit: options.maxQueueDepth ?? 100_000,
    maxAgeMs: options.backlogMaxAgeMs,
  });
  const commits = options.commits ?? new GroupCommit(options.kv);
  if (options.metrics) {
    registerCommitMetrics(options.metrics.registry, commits);
  }
  const app = new Hono<{ Variables: { knownTenant?: string } }>();

  // Refusals are counted per tenant only once the tenant is known to
  // exist (its event resolved): unknown names cannot grow the label set.
  app.onError((err, c) => {
    if (options.metrics && c.req.routePath === "/events/:tenant/:event") {
      options.metrics.rejected(
        c.get("knownTenant") ?? "-",
        rejectReason(err),
      );
    }
    throw err;
  });

  app.post("/events/:tenant/:event", POST_EVENT_DOC, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const event = checkName("event id", c.req.param("event"));
    const route = await options.definitions.route(tenant, event);
    if (route) c.set("knownTenant", tenant);
    if (!route) {
      // Only a caller with a token for the tenant learns what exists.
      await options.auth.check(c.req.raw, tenant, event, "token");
      if (!(await options.store.tenantExists(tenant))) {
        throw new NotFoundError(`Unknown tenant "${tenant}"`);
      }
      throw new NotFoundError(`Tenant "${tenant}" has no event "${event}"`);
    }
    // Credentials first: nothing is read, answered or queued without them.
    const mode = route.event.auth;
    const signed = options.auth.needsBody(c.req.raw, mode);
    const bytes = signed
      ? await readBytes(c.req.raw, maxBody, "Event body")
      : undefined;
    const pass = await options.auth.check(
      c.req.raw,
      tenant,
      event,
      mode,
      bytes,
    );
    const replayKey = pass.replayId
      ? keys.signatureSeen(tenant, pass.replayId)
      : undefined;
    if (replayKey && (await options.kv.get(replayKey)).versionstamp !== null) {
      throw replayed(tenant, event);
    }
    const idemKey = c.req.header("idempotency-key");
    if (idemKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idemKey)) {
      throw new ValidationError(
        "Invalid Idempotency-Key: use 1 to 255 visible ASCII characters",
      );
    }
    if (idemKey) {
      const first = await options.kv.get<Accepted>(
        keys.idempotency(tenant, event, idemKey),
      );
      if (first.value) {
        return c.json(first.value, 200, { "idempotent-replayed": "true" });
      }
    }
    const text = bytes
      ? decodeUtf8(bytes, "Event body")
      : await readBody(c.req.raw, maxBody, "Event body");
    const body = parseJsonBody(text, "Event body");
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
    let at = 0;
    try {
      // A tenant's patterns on long strings cannot hold the listener long.
      inSpanSync("jobico.validate", {
        "jobico.tenant": tenant,
        "jobico.event": event,
        "jobico.schema": route.event.schema.schemaref,
        "jobico.items": data.length,
      }, (span) => {
        withPatternDeadline(validationMs, () => {
          for (; at < data.length; at++) {
            if (route.validate(data[at])) continue;
            for (const e of route.validate.errors ?? []) {
              errors.push({ item: at, ...describeSchemaError(e) });
            }
          }
        });
        span.setAttribute("jobico.invalid_items", errors.length);
      });
    } catch (err) {
      if (!(err instanceof PatternWorkError)) throw err;
      throw new ValidationError(
        `Item ${at} of "data" cannot be checked against schema "${route.event.schema.schemaref}": ${err.message}`,
        { errors: [{ item: at, path: "", message: err.message }] },
      );
    }
    if (errors.length > 0) {
      const first = errors[0];
      throw new ValidationError(
        `Item ${first.item} of "data" does not match schema "${route.event.schema.schemaref}": ` +
          `${first.path} ${first.message}` +
          (errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""),
        { errors },
      );
    }
    // Validated first: a 400 is final, a 429 asks the client to try again.
    const queue = queueStorageName({
      tenant,
      queue: route.event.supplierqueue,
    });
    const admission = await gauge.admit(queue, data.length);
    if (!("done" in admission)) {
      const { backlog, limit } = admission;
      const retryAfter = retryAfterSeconds(backlog, data.length, limit);
      throw new TooManyRequestsError(
        `Queue "${route.event.supplierqueue}" of tenant "${tenant}" holds ${backlog} events; ` +
          `the limit is ${limit}: try again in ${retryAfter} s`,
        retryAfter,
        { queue: route.event.supplierqueue, backlog, limit },
      );
    }
    const ids = data.map(() => newId());
    const answer: Accepted = { accepted: ids.length, ids };
    const res = await inSpan("jobico.enqueue", {
      "jobico.tenant": tenant,
      "jobico.event": event,
      "jobico.package": route.package,
      "jobico.version": route.version,
      "jobico.queue": route.event.supplierqueue,
      "jobico.items": data.length,
    }, async () => {
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
      const idem = idemKey
        ? keys.idempotency(tenant, event, idemKey)
        : undefined;
      try {
        // One part of a group commit, measured (a 413 when it cannot fit).
        const part = acceptWrite({
          kv: options.kv,
          queue: options.queue,
          queueName: queue,
          items,
          ...(idem && {
            idempotency: { key: idem, answer, expireIn: IDEMPOTENCY_MS },
          }),
          ...(replayKey && {
            // Kept a little longer than a signature's timestamp stays valid.
            replay: {
              key: replayKey,
              expireIn: (options.auth.toleranceSec * 2 + 60) * 1000,
            },
          }),
        });
        return await commits.commit(part);
      } catch (err) {
        admission.done(false);
        throw err;
      }
    });
    admission.done(res.ok);
    if (!res.ok) {
      // A concurrent request with the same key won: answer as it did.
      const first = idemKey
        ? await options.kv.get<Accepted>(
          keys.idempotency(tenant, event, idemKey),
        )
        : null;
      if (first?.value) {
        return c.json(first.value, 200, { "idempotent-replayed": "true" });
      }
      if (
        replayKey && (await options.kv.get(replayKey)).versionstamp !== null
      ) {
        throw replayed(tenant, event);
      }
      throw new Error("Appending events to the queue failed");
    }
    options.metrics?.accepted(tenant, event, ids.length);
    return c.json(answer);
  });
  return app;
}

function rejectReason(err: unknown): RejectReason {
  switch ((err as { status?: number }).status) {
    case 400:
      return "invalid";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 413:
      return "too_large";
    case 429:
      return "backpressure";
    default:
      return "other";
  }
}

function replayed(tenant: string, event: string): UnauthorizedError {
  return new UnauthorizedError(
    `This signed request for event "${event}" of tenant "${tenant}" was already accepted: ` +
      "sign each new request with the current time (use an Idempotency-Key to retry safely)",
  );
}

/** The API description of the route (components/openapi). */
const POST_EVENT_DOC = describeRoute({
  operationId: "sendEvent",
  tags: ["events"],
  summary: "Send event items",
  description:
    "Each item is validated against the event's schema; all are queued in " +
    "one write, and only then is the answer 200. At most 1 MiB, 500 items " +
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
      schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
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
        "A malformed body, an empty `data`, a bad Idempotency-Key, or an " +
        "item that fails the schema (`errors` names each item and path)",
      ],
      [401, "Missing or wrong credentials, or a signed request seen before"],
      [403, "Another tenant's token"],
      [404, "No such tenant or event"],
      [413, "The body, the item count or the write is too large"],
      [429, "The queue holds too many events; see Retry-After"],
    ),
  },
});
