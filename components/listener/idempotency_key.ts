/**
 * The Idempotency-Key step of the listener: the same key for the same
 * tenant and event within 24 hours answers the first answer again (with
 * `idempotent-replayed: true`) and queues nothing new. The key's record,
 * the answer, is written with the items (enqueue_events.ts) and checked to
 * be new there, so of concurrent duplicates one write wins and every one
 * gets its answer.
 */
import { jsonRecords, ValidationError } from "@jobico/goico";
import type { Context } from "hono";
import type { Step } from "../http/pipeline.ts";
import { keys } from "../model/keys.ts";
import { type Accepted, WriteRefused } from "./enqueue_events.ts";
import type { ListenerEnv } from "./listener_env.ts";

/** How long an Idempotency-Key is remembered, in ms: 24 hours. */
export const IDEMPOTENCY_MS = 24 * 60 * 60 * 1000;

/** What a key may be: 1 to 255 visible ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Answers a request whose `idempotency-key` was seen for `route`'s event
 * (eventRoute); else sets `idempotency`. `reads` reads the keys' records:
 * the listener's `ReadBatcher`, which reads the keys of concurrent
 * requests together (or the KV itself).
 *
 * @throws {ValidationError} a malformed key (400)
 */
export function idempotencyKey(
  reads: Pick<Deno.Kv, "get">,
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
    const key = keys.idempotency(route.tenant, route.event.id, header);
    const first = await reads.get(key);
    if (first.value) return replay(c, first.value);
    c.set("idempotency", { key, expireIn: IDEMPOTENCY_MS });
    try {
      return await next();
    } catch (err) {
      if (!(err instanceof WriteRefused)) throw err;
      // A concurrent request with the same key won: answer as it did.
      const winner = await reads.get(key);
      if (winner.value) return replay(c, winner.value);
      throw err;
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
