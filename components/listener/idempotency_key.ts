/**
 * The Idempotency-Key step of the listener: the same key for the same
 * tenant and event within 24 hours answers the first answer again (with
 * `idempotent-replayed: true`) and queues nothing new. The key's record,
 * the answer, is written with the items (enqueue_events.ts) and checked to
 * be new there, so of concurrent duplicates one write wins and every one
 * gets its answer.
 *
 * The record is not read before the request goes on, unless its tenant
 * sent a duplicate lately (recent_duplicates.ts): a new key, the usual
 * case, costs no read. A duplicate is then found by its write's check; or,
 * when a later step refuses the request first (a body that is not JSON, a
 * full queue...), by the read that follows the refusal. Either way it gets
 * the first answer, whatever it carries.
 */
import { jsonRecords, ValidationError } from "@jobico/goico";
import type { Context } from "hono";
import type { Step } from "../http/pipeline.ts";
import { keys } from "../model/keys.ts";
import { type Accepted, WriteRefused } from "./enqueue_events.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { RecentDuplicates } from "./recent_duplicates.ts";

/** How long an Idempotency-Key is remembered, in ms: 24 hours. */
export const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;

/** What a key may be: 1 to 255 visible ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Answers a request whose `idempotency-key` was seen for `route`'s event
 * (eventRoute); else sets `idempotency`. `reads` reads the keys' records:
 * the listener's `ReadBatcher`, which reads the keys of concurrent
 * requests together (or the KV itself). `duplicates` says whose records
 * are read first (see the header), and is told of each duplicate found.
 *
 * @throws {ValidationError} a malformed key (400)
 */
export function idempotencyKey(
  reads: Pick<Deno.Kv, "get">,
  duplicates: RecentDuplicates = new RecentDuplicates(),
): Step<ListenerEnv> {
  return async function idempotencyKey(c, next) {
    const header = c.req.header("idempotency-key");
    if (header === undefined) return next();
    if (!IDEMPOTENCY_KEY.test(header)) {
      throw new ValidationError(
        "Invalid Idempotency-Key: use 1 to 255 visible ASCII characters",
      );
    }
    const route = c.get("route");
    const { tenant } = route;
    const key = keys.idempotency(tenant, route.event.id, header);
    const readFirst = duplicates.readFirst(tenant);
    if (readFirst) {
      const first = await reads.get(key);
      if (first.value) {
        duplicates.found(tenant);
        return replay(c, first.value);
      }
    }
    c.set("idempotency", { key, expireIn: IDEMPOTENCY_MS });
    try {
      return await next();
    } catch (err) {
      // Read first: only a refused write can be a duplicate (a concurrent
      // request with the same key won). Not read: any refusal may be one.
      if (readFirst && !(err instanceof WriteRefused)) throw err;
      let winner: Deno.KvEntryMaybe<unknown>;
      try {
        winner = await reads.get(key);
      } catch {
        throw err; // the store failed: the refusal stands
      }
      if (!winner.value) throw err;
      duplicates.found(tenant);
      return replay(c, winner.value);
    }
  };
}

/**
 * The first answer again, from its record: JSON bytes (accept_write.ts),
 * or the value itself as versions before 2026-12-05 stored it.
 */
function replay(c: Context<ListenerEnv>, stored: unknown): Response {
  const answer = jsonRecords.decode(stored) as Accepted;
  return c.json(answer, 200, { "idempotent-replayed": "true" });
}
