/**
 * The job package model: the YAML format of the original platform, with
 * lowercase keys. See README.md ("Job packages") for an annotated example.
 */

import type { ConcurrencyDef } from "./concurrency.ts";
import type { Priority } from "@jobico/goico";
import type { RuntimeLimitsDef } from "./runtime_limits.ts";
import type { ScheduleDef } from "./schedule.ts";
import type { DebounceDef, RateLimitDef } from "./flow_limits.ts";

/** A queue that events are appended to. */
export interface QueueDef {
  id: string;
  name?: string;
}

/** The JSON Schema that an event's items are validated against. */
export interface SchemaDef {
  id: string;
  name?: string;
  /** The name of an uploaded schema file of the package's tenant. */
  schemaref: string;
}

/**
 * How the listener accepts an event: `token`, a bearer token of the tenant;
 * `hmac`, a `Jobico-Signature` made with the tenant's webhook secret (see
 * `components/listener/webhook_signature.ts`); `public`, anyone.
 */
export type EventAuth = "token" | "hmac" | "public";

/** An event the listener accepts and the executor runs. */
export interface EventDef {
  id: string;
  name?: string;
  /**
   * How `POST /events/{tenant}/{event}` authenticates a request; "token"
   * when absent (absent stays absent in the model). The result events a job
   * chains to are enqueued internally, never received over HTTP by the
   * executor, but clients may post them too, so it applies to them as well.
   */
  auth?: EventAuth;
  /** 0 means JSON, the only data type there is. */
  datatype: number;
  schema: SchemaDef;
  /** The id of a queue declared in `queues`. */
  supplierqueue: string;
  /** The id of a runtime declared in `runtimes`. */
  runtime: string;
  /**
   * When the platform sends the event itself (see model/schedule.ts):
   * `schedule: "0 * * * *"` (a cron string) or `{cron, timezone, payload}`.
   */
  schedule?: ScheduleDef;
  /** At most `limit` items per `period` per key (see model/flow_limits.ts). */
  rateLimit?: RateLimitDef;
  /** Items of one key within `period` of each other run once (see model/flow_limits.ts). */
  debounce?: DebounceDef;
  /**
   * At most `limit` executions of the event at once, across processes, per
   * value of `key` when it has one (see model/concurrency.ts).
   */
  concurrency?: ConcurrencyDef;
  /**
   * `high`, `normal` (the default) or `low`: its items are leased before
   * older items of a lower priority in their queue, which age one level per
   * `agingMs` waited so they are not starved (see goico/queue_priority.ts).
   * A webhook request may set another with `?priority=`.
   */
  priority?: Priority;
}

/**
 * What a job's execution sends to its result event:
 *
 * - `result` (the default): the Jobicolet's result, parsed when it is JSON,
 *   else the result text as a JSON string; a failed execution (a trap, a
 *   limit), which returns nothing, sends its reason. The code and the
 *   execution it comes from go beside the item (the result event's
 *   execution record has them as `chainedFrom`), not into it.
 * - `envelope`: `{code, result, error?, source: {event, eventId,
 *   executionId}}`, the outcome as a whole (what this platform sent before
 *   `item` existed).
 */
export type ChainedItem = "result" | "envelope";

/** The values of a result's `item`, the default first. */
export const CHAINED_ITEMS: readonly ChainedItem[] = ["result", "envelope"];

/** The events a job's result is sent to. */
export interface ResultDef {
  ok?: EventDef;
  error?: EventDef;
  /**
   * What is sent (see {@linkcode ChainedItem}). A deploy stores it always
   * ("result" when the source does not say): it is absent only in versions
   * deployed before it existed, whose results send the envelope.
   */
  item?: ChainedItem;
}

/** `pkg` with every result's `item` said: "result" where the source says nothing. */
export function withChainedItems(pkg: JobPackage): JobPackage {
  return {
    ...pkg,
    jobs: pkg.jobs.map((j) =>
      j.result
        ? { ...j, result: { ...j.result, item: j.result.item ?? "result" } }
        : j
    ),
  };
}

export interface JobDef {
  event: EventDef;
  result?: ResultDef;
}

/** A WebAssembly module and the function to call in it. */
export interface RuntimeDef {
  id: string;
  name?: string;
  /** The name of an uploaded wasm file of the package's tenant. */
  moduleref: string;
  /** The exported main function; `event` when empty. */
  mainfuncname?: string;
  /** 0 means wasm, the only runtime type there is. */
  type: number;
  /** Limits of each execution; platform defaults for what is absent. */
  limits?: RuntimeLimitsDef;
  /** Retries of a `failed` execution before the event is dead-lettered. */
  retries?: number;
  /** At most this many executions of the runtime at once, across processes. */
  concurrency?: number;
}

export interface JobPackage {
  id: string;
  name?: string;
  tenant: string;
  queues: QueueDef[];
  jobs: JobDef[];
  runtimes: RuntimeDef[];
}

/** One problem found in a package, with where it is in the source. */
export interface PackageIssue {
  /**
   * `syntax`: the YAML itself is broken; `structure`: unknown keys, missing
   * fields, wrong types, duplicates; `reference`: a name that does not resolve
   * (a queue, a runtime, an uploaded file). The API answers 400 for the first
   * two and 422 when every issue is a reference.
   */
  kind: "syntax" | "structure" | "reference";
  /** A path into the document, e.g. `jobs[0].event.supplierqueue`. */
  path: string;
  message: string;
  /** 1-based line and column in the YAML (or JSON) source. */
  line: number;
  col: number;
}

/** What kind of uploaded file a name refers to. */
export type FileKind = "wasm" | "schema";
