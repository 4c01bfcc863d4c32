/**
 * What the steps of the listener's pipeline (listener.ts) hand on to the
 * steps after them, through `c.set` and `c.get`. Each member names the step
 * that sets it; a step reads only what the steps before it set.
 */
import type { EventRoute } from "../packages/definitions.ts";
import type { FlowPlan } from "../flow/flow_plan.ts";
import type { Priority } from "@jobico/goico";

/** A record written once, with the items, and checked to be new. */
export interface OnceRecord {
  key: Deno.KvKey;
  /** How long it is kept, in ms. */
  expireIn: number;
}

export interface ListenerVariables {
  /**
   * The tenant, once its event resolved (eventRoute): refusals are counted
   * per tenant only from then on, so unknown names cannot grow the labels.
   */
  knownTenant?: string;
  /** The event's route: its package version, definition and schema (eventRoute). */
  route: EventRoute;
  /** The body's bytes, read within the limit (eventBytes, or webhookCredentials for a signature). */
  bodyBytes?: Uint8Array;
  /** A signed request's replay record (webhookCredentials). */
  replay?: OnceRecord;
  /** When the items run, ms since the epoch, when the request put them off (eventDelay). */
  dueAt?: number;
  /** The items' priority, when the request set one (eventPriority). */
  priority?: Priority;
  /** The Idempotency-Key's record; its value is the answer (idempotencyKey). */
  idempotency?: OnceRecord;
  /** The body, parsed (jsonBody). */
  body: unknown;
  /** The items of `data` (eventItems). */
  items: unknown[];
  /** How a rate limit or debounce places the items (flowControl). */
  flow?: FlowPlan;
}

/** The Hono environment of the listener's steps. */
export type ListenerEnv = { Variables: ListenerVariables };
