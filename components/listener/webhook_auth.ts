/**
 * How the listener accepts an event, as its definition's `auth` says:
 * - `token` (default): `Authorization: Bearer` with the tenant's token or
 *   the admin token; no or a wrong token is a 401, another tenant's a 403;
 * - `hmac`: a `Jobico-Signature` over the raw body made with the tenant's
 *   webhook secret (see webhook_signature.ts), or else a token as above;
 * - `public`: anyone may send it.
 */
import { UnauthenticatedError } from "@jobico/goico";
import type { Authenticator } from "../http/authenticator.ts";
import type { EventAuth } from "../model/job_package.ts";
import { assertTenantAccess } from "../http/principal.ts";
import type { TenantStore } from "../tenants/tenant_store.ts";
import {
  DEFAULT_TOLERANCE_SEC,
  SIGNATURE_HEADER,
  verifyWebhook,
} from "./webhook_signature.ts";

export interface WebhookAuthOptions {
  authenticator: Authenticator;
  tenants: TenantStore;
  now?: () => number;
  /** Seconds a signature's timestamp may be off. Default 300. */
  toleranceSec?: number;
  /** How long a tenant's webhook secrets are reused in this process. Default 1 s. */
  secretCacheMs?: number;
}

/** What the listener must do after a check. */
export interface WebhookPass {
  /** For a signed request: record this id so the same request is not accepted twice. */
  replayId?: string;
}

export class WebhookAuth {
  readonly #now: () => number;
  readonly toleranceSec: number;
  readonly #cacheMs: number;
  readonly #secrets = new Map<string, { at: number; secrets: string[] }>();

  constructor(private readonly options: WebhookAuthOptions) {
    this.#now = options.now ?? Date.now;
    this.toleranceSec = options.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
    this.#cacheMs = options.secretCacheMs ?? 1000;
  }

  /** Whether the check needs the body (only a signature does). */
  needsBody(req: Request, mode: EventAuth | undefined): boolean {
    return mode === "hmac" && !req.headers.has("authorization");
  }

  /**
   * Checks a request for an event of `tenant`; `body` is required when
   * `needsBody` says so.
   *
   * @throws {UnauthenticatedError} missing or wrong credentials
   * @throws {ForbiddenError} another tenant's token
   */
  async check(
    req: Request,
    tenant: string,
    event: string,
    mode: EventAuth | undefined,
    body?: Uint8Array,
  ): Promise<WebhookPass> {
    if (mode === "public") return {};
    if (mode === "hmac" && !req.headers.has("authorization")) {
      const result = await verifyWebhook({
        header: req.headers.get(SIGNATURE_HEADER),
        body: body ?? new Uint8Array(),
        secrets: await this.#secretsOf(tenant),
        nowMs: this.#now(),
        toleranceSec: this.toleranceSec,
      });
      if (!result.ok) {
        throw new UnauthenticatedError(
          `Event "${event}" of tenant "${tenant}" needs a signature: ${result.reason}`,
        );
      }
      return { replayId: result.replayId };
    }
    const p = await this.options.authenticator.principal(req);
    if (!p) {
      throw new UnauthenticatedError(
        mode === "hmac"
          ? `Event "${event}" of tenant "${tenant}" needs a "${SIGNATURE_HEADER}" header or a bearer token`
          : `Event "${event}" of tenant "${tenant}" needs a token: send Authorization: Bearer <the tenant's token>`,
      );
    }
    assertTenantAccess(p, tenant);
    return {};
  }

  async #secretsOf(tenant: string): Promise<string[]> {
    const now = this.#now();
    const hit = this.#secrets.get(tenant);
    if (hit && now - hit.at < this.#cacheMs) return hit.secrets;
    const s = await this.options.tenants.webhookSecrets(tenant);
    const secrets = [s.secret, ...(s.previous ? [s.previous.secret] : [])];
    if (this.#secrets.size > 10_000) this.#secrets.clear();
    this.#secrets.set(tenant, { at: now, secrets });
    return secrets;
  }
}
