/**
 * The credentials step of the listener, as Hono's `bearerAuth`: the
 * request must carry what its event's `auth` asks for (webhook_auth.ts: a
 * token, a signature or nothing); nothing is read, answered or queued
 * without it. A signed request's body is read here (the signature is over
 * its bytes), and a signature is accepted once: its replay record is
 * written with the items, and a signature seen before is a 401. As with an
 * Idempotency-Key (idempotency_key.ts), the record is read before the
 * request goes on only when its tenant sent a duplicate lately
 * (recent_duplicates.ts); otherwise a replay is found by its write's check,
 * or by the read that follows a later refusal.
 */
import { UnauthenticatedError } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import { keys } from "../model/keys.ts";
import { WriteRefused } from "./enqueue_events.ts";
import { readEventBytes } from "./event_bytes.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { RecentDuplicates } from "./recent_duplicates.ts";
import type { WebhookAuth } from "./webhook_auth.ts";

export interface WebhookCredentialsOptions {
  /**
   * Reads replay records: the listener's `ReadBatcher`, which reads the
   * keys of concurrent requests together (or the KV itself).
   */
  reads: Pick<Deno.Kv, "get">;
  /** Checks the credentials as the event's `auth` says. */
  auth: WebhookAuth;
  /** The body limit of a signed body read here (as eventBytes's). */
  maxBodyBytes: number;
  /**
   * Whose replay records are read first (recent_duplicates.ts), told of
   * each replay found.
   *
   * @default {new RecentDuplicates()}
   */
  duplicates?: RecentDuplicates;
}

/**
 * Checks `route`'s credentials (eventRoute); sets `replay` (and
 * `bodyBytes`) for a signed request.
 *
 * @throws {UnauthenticatedError} missing or wrong credentials, or a signature seen before (401)
 * @throws {ForbiddenError} another tenant's token (403)
 */
export function webhookCredentials(
  options: WebhookCredentialsOptions,
): Step<ListenerEnv> {
  const { reads, auth, maxBodyBytes } = options;
  const duplicates = options.duplicates ?? new RecentDuplicates();
  // Kept a little longer than a signature's timestamp stays valid.
  const expireIn = (auth.toleranceSec * 2 + 60) * 1000;
  return async function webhookCredentials(c, next) {
    const route = c.get("route");
    const { tenant } = route;
    const event = route.event.id;
    const mode = route.event.auth;
    const bytes = auth.needsBody(c.req.raw, mode)
      ? await readEventBytes(c, maxBodyBytes)
      : undefined;
    const pass = await auth.check(c.req.raw, tenant, event, mode, bytes);
    if (!pass.replayId) return next();
    const key = keys.signatureSeen(tenant, pass.replayId);
    const seen = async () => {
      if ((await reads.get(key)).versionstamp === null) return false;
      duplicates.found(tenant);
      return true;
    };
    const readFirst = duplicates.readFirst(tenant);
    if (readFirst && await seen()) throw replayed(tenant, event);
    c.set("replay", { key, expireIn });
    try {
      return await next();
    } catch (err) {
      // Read first: only a refused write can be a replay (a concurrent
      // request with the same signature was written first). Not read: any
      // refusal may be one.
      if (readFirst && !(err instanceof WriteRefused)) throw err;
      let replay = false;
      try {
        replay = await seen();
      } catch {
        // The store failed: the refusal stands.
      }
      if (replay) throw replayed(tenant, event);
      throw err;
    }
  };
}

function replayed(tenant: string, event: string): UnauthenticatedError {
  return new UnauthenticatedError(
    `This signed request for event "${event}" of tenant "${tenant}" was already accepted: ` +
      "sign each new request with the current time (use an Idempotency-Key to retry safely)",
  );
}
