/**
 * The listener: `POST /events/{tenant}/{event}` with `{"data": [item, ...]}`,
 * a pipeline of named steps (components/http/pipeline.ts), each in its own
 * file with its own tests:
 *
 * 0. countRefusals: counts what the steps after it refuse;
 * 1. eventRoute: the names in the path, resolved to the event's route;
 * 2. webhookCredentials: a token, a signature (once) or nothing, as the
 *    event's `auth` says;
 * 3. eventDelay: `?delay=` or `?runAt=` puts the items off, and
 *    eventPriority: `?priority=` sets their priority (a 400 naming a
 *    bad one);
 * 4. idempotencyKey: a key seen before answers its first answer (read
 *    first only for a tenant that sent a duplicate lately: otherwise the
 *    write's check finds it, recent_duplicates.ts);
 * 5. eventBytes: the body, within the size limit;
 * 6. jsonBody: UTF-8 and JSON, within the nesting limit;
 * 7. eventItems: a non-empty `data` list within the item limit;
 * 8. itemSchema: each item matches the event's schema;
 * 9. flowControl: an event's `rateLimit` or `debounce` plans the items on
 *    the store (429 over a `reject` limit; throttled and debounced items
 *    are put off); nothing for an event without either;
 * 10. backpressure: the queue holds fewer than `maxQueueDepth` items (429);
 * 11. enqueueEvents: all items in one write, measured as it is built (413
 *    when it cannot fit), then 200 with their ids (and when they run, when
 *    put off).
 *
 * What is refused is refused whole: nothing of it is queued.
 */
import { Hono } from "hono";
import {
  DomainError,
  type DurableQueue,
  type ErrorKind,
  GroupCommit,
  ReadBatcher,
} from "@jobico/goico";
import { pipeline, type Step } from "../http/pipeline.ts";
import { documented } from "../openapi/documented.ts";
import type { Definitions } from "../packages/definitions.ts";
import type { PackageStore } from "../packages/package_store.ts";
import type { EventItem } from "../model/event_item.ts";
import type {
  PlatformMetrics,
  RejectReason,
} from "../observe/platform_metrics.ts";
import { registerCommitMetrics } from "../observe/commit_metrics.ts";
import { BacklogGauge } from "./backlog_gauge.ts";
import { backpressure } from "./backpressure.ts";
import { enqueueEvents } from "./enqueue_events.ts";
import { DEFAULT_MAX_BODY_BYTES, eventBytes } from "./event_bytes.ts";
import { eventDelay } from "./event_delay.ts";
import { eventPriority } from "./event_priority.ts";
import { eventItems } from "./event_items.ts";
import { eventRoute } from "./event_route.ts";
import { flowControl } from "./flow_control.ts";
import { RateLimitedError } from "../flow/rate_limited_error.ts";
import { idempotencyKey } from "./idempotency_key.ts";
import { RecentDuplicates } from "./recent_duplicates.ts";
import { itemSchema } from "./item_schema.ts";
import { jsonBody } from "./json_body.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { SEND_EVENT_DOC } from "./send_event_doc.ts";
import type { WebhookAuth } from "./webhook_auth.ts";
import { webhookCredentials } from "./webhook_credentials.ts";

export type { Accepted } from "./enqueue_events.ts";

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
   * Reads the records requests are checked against (an Idempotency-Key's,
   * a signature's replay record), the keys of concurrent requests
   * together.
   *
   * @default {new ReadBatcher(kv)}
   */
  reads?: ReadBatcher;
  /**
   * The furthest a request may put its events off (`?delay=`, `?runAt=`),
   * in ms.
   *
   * @default {DEFAULT_MAX_DELAY_MS}
   */
  maxDelayMs?: number;
  /**
   * Counts accepted and refused events.
   *
   * @default {undefined}
   */
  metrics?: PlatformMetrics;
}

export function listenerApp(options: ListenerOptions): Hono<ListenerEnv> {
  const { kv, queue, auth, metrics } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const gauge = new BacklogGauge(queue, {
    limit: options.maxQueueDepth ?? 100_000,
    maxAgeMs: options.backlogMaxAgeMs,
  });
  const commits = options.commits ?? new GroupCommit(kv);
  const reads = options.reads ?? new ReadBatcher(kv);
  if (metrics) registerCommitMetrics(metrics.registry, commits, reads);
  // Whose once-records (Idempotency-Keys, signatures) are read first.
  const duplicates = new RecentDuplicates();
  const app = new Hono<ListenerEnv>();

  // The description rides on the handler: no middleware per request.
  app.post(
    "/events/:tenant/:event",
    documented(
      SEND_EVENT_DOC,
      pipeline(
        countRefusals(metrics),
        eventRoute(options),
        webhookCredentials({ reads, auth, maxBodyBytes, duplicates }),
        eventDelay({ maxDelayMs: options.maxDelayMs }),
        eventPriority(),
        idempotencyKey(reads, duplicates),
        eventBytes({ maxBytes: maxBodyBytes }),
        jsonBody(),
        eventItems({ maxItems: options.maxItems }),
        itemSchema({ validationMs: options.validationMs }),
        flowControl({ kv, queue, maxDelayMs: options.maxDelayMs }),
        backpressure(gauge),
        enqueueEvents({ kv, queue, commits, newId: options.newId, metrics }),
      ),
    ),
  );
  return app;
}

/**
 * Counts what the steps after it refuse (then hands the error on to the
 * app's one error boundary), per tenant only once the tenant is known to
 * exist (its event resolved): unknown names cannot grow the label set. A
 * step rather than the app's `onError`: Hono wraps every route of a
 * mounted app that has its own `onError` in one more compose per request.
 */
function countRefusals(metrics?: PlatformMetrics): Step<ListenerEnv> {
  return function countRefusals(c, next) {
    if (!metrics) return next();
    return next().catch((err: unknown) => {
      metrics.rejected(c.get("knownTenant") ?? "-", rejectReason(err));
      throw err;
    });
  };
}

/** The metric's reason for each kind of refusal. */
const REJECT_REASONS: Partial<Record<ErrorKind, RejectReason>> = {
  invalid: "invalid",
  unauthenticated: "unauthorized",
  forbidden: "forbidden",
  not_found: "not_found",
  too_large: "too_large",
  too_many: "backpressure",
};

function rejectReason(err: unknown): RejectReason {
  if (err instanceof RateLimitedError) return "rate_limited";
  return (err instanceof DomainError && REJECT_REASONS[err.kind]) || "other";
}
