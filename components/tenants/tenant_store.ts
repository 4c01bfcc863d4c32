/**
 * Tenants and their credentials. A tenant's API token is shown once, when it
 * is made; only its sha-256 is stored, with an index from hash to tenant so
 * a request is authenticated with one read. Tokens are 32 random bytes, so a
 * plain sha-256 (no slow hash) is what protects them at rest. Each tenant
 * also has a webhook signing secret (HMAC needs the secret itself, so it is
 * stored sealed with a key kept outside the store when the store is given
 * one, see goico/secret_box.ts; secrets stored in clear before are sealed
 * the first time they are read or changed); after a rotation the previous
 * one stays valid for a grace period so senders can switch over.
 */
import type { Tenant, WebhookSecrets } from "../../api/mod.ts";
import {
  ConflictError,
  deletePrefixes,
  NotFoundError,
  ReadBatcher,
  SealError,
  SecretBox,
  sha256HexNow,
} from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import { keys } from "../model/keys.ts";
import { bornAt, tenantBorn } from "./tenant_born.ts";
import { assertNotDeleting, type TenantDeletion } from "./tenant_deletion.ts";

/** What is stored of a tenant's credentials. */
interface Credentials {
  createdAt: string;
  /** sha-256 (hex) of the current token; absent until one is made. */
  tokenHash?: string;
  tokenCreatedAt?: string;
  /** The current webhook secret first; a previous one with its end. */
  webhookSecrets: { secret: string; createdAt: string; validUntil?: string }[];
}

/** A tenant as the API shows it (never a token), without its storage. */
export type TenantInfo = Pick<
  Tenant,
  "id" | "createdAt" | "hasToken" | "tokenCreatedAt"
>;

/** A tenant's webhook secret, and the one before the last rotation while it is still accepted. */
export type { WebhookSecrets };

export interface TenantStoreOptions {
  now?: () => number;
  /** How long a rotated-out webhook secret stays valid. Default 24 h. */
  secretGraceMs?: number;
  /** How long a token lookup is reused in this process. Default 1 s. */
  cacheMs?: number;
  /**
   * Seals the webhook secrets at rest. Default: none, they are stored in
   * clear (and sealed ones cannot be read).
   */
  secrets?: SecretBox;
}

/** Token prefix, so a leaked token is recognisable (secret scanners). */
const TOKEN_PREFIX = "jbt_";

export class TenantStore {
  readonly #now: () => number;
  readonly #grace: number;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { tenant: string | null; at: number }>();
  readonly #box: SecretBox | undefined;
  /**
   * Reads the tokens that miss the cache with those of concurrent
   * requests: a flood of unknown tokens (each a miss) costs a read a few
   * requests instead of one each.
   */
  readonly #tokenReads: ReadBatcher;

  constructor(
    private readonly kv: Deno.Kv,
    options: TenantStoreOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#grace = options.secretGraceMs ?? 24 * 60 * 60 * 1000;
    this.#cacheMs = options.cacheMs ?? 1000;
    this.#box = options.secrets;
    this.#tokenReads = new ReadBatcher(kv);
  }

  /** Creates a tenant and its first token; 409 when the id is taken. */
  async create(id: string): Promise<{ id: string; token: string }> {
    checkName("tenant", id);
    const token = newSecret(TOKEN_PREFIX);
    const hash = sha256HexNow(token);
    const at = new Date(this.#now()).toISOString();
    const creds = await this.#sealed(id, {
      createdAt: at,
      tokenHash: hash,
      tokenCreatedAt: at,
      webhookSecrets: [{ secret: newSecret("whsec_"), createdAt: at }],
    });
    await assertNotDeleting(this.kv, id);
    const res = await tenantBorn(this.kv.atomic(), id, this.#now())
      .check({ key: keys.tenant(id), versionstamp: null })
      .check({ key: keys.tenantCredentials(id), versionstamp: null })
      .check({ key: keys.tenantDeletion(id), versionstamp: null })
      .set(keys.tenant(id), { id })
      .set(keys.tenantCredentials(id), creds)
      .set(keys.tokenHash(hash), { tenant: id })
      .commit();
    if (!res.ok) {
      throw new ConflictError(
        `Tenant "${id}" already exists; make it a new token with: jobico tenant rotate-token ${id}`,
      );
    }
    return { id, token };
  }

  async list(): Promise<TenantInfo[]> {
    const out: TenantInfo[] = [];
    for await (const e of this.kv.list({ prefix: keys.tenants() })) {
      out.push(await this.#info(e.key[1] as string));
    }
    return out;
  }

  async get(id: string): Promise<TenantInfo> {
    checkName("tenant", id);
    if (!(await this.exists(id))) throw unknown(id);
    return await this.#info(id);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.kv.get(keys.tenant(id))).versionstamp !== null;
  }

  async #info(id: string): Promise<TenantInfo> {
    const [creds, born] = await this.kv.getMany<[Credentials, unknown]>([
      keys.tenantCredentials(id),
      keys.tenantBorn(id),
    ]);
    const c = creds.value;
    // Its first upload, deploy or `tenant create` (tenant_born.ts), or its
    // credentials' time when earlier: a tenant made before births were
    // recorded is born again at its first write since.
    const times = [bornAt(born.value), c?.createdAt].filter((t) =>
      t !== undefined
    ).sort();
    const createdAt = times[0];
    return {
      id,
      ...(createdAt && { createdAt }),
      hasToken: Boolean(c?.tokenHash),
      ...(c?.tokenCreatedAt && { tokenCreatedAt: c.tokenCreatedAt }),
    };
  }

  /** Makes a new token for a tenant; the old one stops working at once. */
  async rotateToken(id: string): Promise<{ id: string; token: string }> {
    checkName("tenant", id);
    const token = newSecret(TOKEN_PREFIX);
    const hash = sha256HexNow(token);
    await this.#update(id, (c, op) => {
      if (c.tokenHash) {
        op.delete(keys.tokenHash(c.tokenHash));
        this.#cache.delete(c.tokenHash);
      }
      op.set(keys.tokenHash(hash), { tenant: id });
      const at = new Date(this.#now()).toISOString();
      return { ...c, tokenHash: hash, tokenCreatedAt: at };
    });
    return { id, token };
  }

  /** The tenant a token belongs to, or null. */
  async tenantOfToken(token: string): Promise<string | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const hash = sha256HexNow(token);
    const now = this.#now();
    const hit = this.#cache.get(hash);
    if (hit && now - hit.at < this.#cacheMs) return hit.tenant;
    const tenant =
      (await this.#tokenReads.get<{ tenant: string }>(keys.tokenHash(hash)))
        .value?.tenant ?? null;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(hash, { tenant, at: now });
    return tenant;
  }

  /** The webhook secrets a signature may be made with now. */
  async webhookSecrets(id: string): Promise<WebhookSecrets> {
    checkName("tenant", id);
    const stored = (await this.kv.get<Credentials>(keys.tenantCredentials(id)))
      .value;
    let c = stored && await this.#opened(id, stored);
    if (
      this.#box && stored &&
      stored.webhookSecrets.some((w) => !SecretBox.isSealed(w.secret))
    ) {
      // Stored in clear before sealing was on: sealed now, once.
      c = await this.#update(id, (c) => c);
    }
    if (!c?.webhookSecrets.length) {
      // Tenants made before credentials existed (by an admin upload) get one now.
      if (!(await this.exists(id))) throw unknown(id);
      c = await this.#update(id, (c) => ({
        ...c,
        webhookSecrets: c.webhookSecrets.length ? c.webhookSecrets : [{
          secret: newSecret("whsec_"),
          createdAt: new Date(this.#now()).toISOString(),
        }],
      }));
    }
    const [current, previous] = c.webhookSecrets;
    const now = this.#now();
    return {
      secret: current.secret,
      ...(previous?.validUntil && Date.parse(previous.validUntil) > now && {
        previous: { secret: previous.secret, validUntil: previous.validUntil },
      }),
    };
  }

  /** Makes a new webhook secret; the previous one stays valid for the grace period. */
  async rotateWebhookSecret(id: string): Promise<WebhookSecrets> {
    checkName("tenant", id);
    await this.webhookSecrets(id);
    const now = this.#now();
    await this.#update(id, (c) => ({
      ...c,
      webhookSecrets: [
        { secret: newSecret("whsec_"), createdAt: new Date(now).toISOString() },
        ...c.webhookSecrets.slice(0, 1).map((s) => ({
          ...s,
          validUntil: new Date(now + this.#grace).toISOString(),
        })),
      ],
    }));
    return await this.webhookSecrets(id);
  }

  /**
   * Marks a tenant deleted (see tenant_deletion.ts) in one atomic: its
   * token stops working, it is gone from `exists`, `get` and `list`, and
   * `announce` adds what tells the other components (a definition change).
   */
  async markDeleted(
    id: string,
    announce: (op: Deno.AtomicOperation) => Deno.AtomicOperation,
  ): Promise<void> {
    checkName("tenant", id);
    const [marker, creds] = await this.kv.getMany<[unknown, Credentials]>([
      keys.tenant(id),
      keys.tenantCredentials(id),
    ]);
    if (marker.versionstamp === null) throw unknown(id);
    const mark: TenantDeletion = { since: this.#now() };
    const op = this.kv.atomic().check(marker).check(creds)
      .set(keys.tenantDeletion(id), mark)
      .delete(keys.tenant(id))
      .delete(keys.tenantBorn(id))
      .delete(keys.tenantCredentials(id));
    if (creds.value?.tokenHash) {
      op.delete(keys.tokenHash(creds.value.tokenHash));
      this.#cache.delete(creds.value.tokenHash);
    }
    if (!(await announce(op).commit()).ok) {
      throw new ConflictError(
        `Tenant "${id}" is being changed concurrently; try again`,
      );
    }
  }

  /** Removes a tenant's credentials: its token stops working at once. */
  async revoke(id: string): Promise<void> {
    checkName("tenant", id);
    if (!(await this.exists(id))) throw unknown(id);
    const creds = await this.kv.get<Credentials>(keys.tenantCredentials(id));
    const op = this.kv.atomic().check(creds).delete(
      keys.tenantCredentials(id),
    );
    if (creds.value?.tokenHash) {
      op.delete(keys.tokenHash(creds.value.tokenHash));
      this.#cache.delete(creds.value.tokenHash);
    }
    if (!(await op.commit()).ok) {
      throw new ConflictError(
        `Tenant "${id}" is being changed concurrently; try again`,
      );
    }
  }

  /** Removes every key under the tenant's prefixes, its marker last. */
  async forget(id: string): Promise<void> {
    await deletePrefixes(this.kv, keys.tenantPrefixes(id));
  }

  async #update(
    id: string,
    change: (c: Credentials, op: Deno.AtomicOperation) => Credentials,
  ): Promise<Credentials> {
    for (let tries = 0; tries < 10; tries++) {
      const [marker, entry] = await this.kv.getMany<[unknown, Credentials]>([
        keys.tenant(id),
        keys.tenantCredentials(id),
      ]);
      if (marker.versionstamp === null) throw unknown(id);
      const op = this.kv.atomic().check(entry);
      const next = change(
        entry.value ? await this.#opened(id, entry.value) : {
          createdAt: new Date(this.#now()).toISOString(),
          webhookSecrets: [],
        },
        op,
      );
      op.set(keys.tenantCredentials(id), await this.#sealed(id, next));
      if ((await op.commit()).ok) return next;
    }
    throw new ConflictError(
      `Tenant "${id}" is being changed concurrently; try again`,
    );
  }

  /** Credentials as stored, their webhook secrets opened. */
  async #opened(id: string, c: Credentials): Promise<Credentials> {
    const webhookSecrets = await Promise.all(
      c.webhookSecrets.map(async (w) => {
        if (!SecretBox.isSealed(w.secret)) return w;
        if (!this.#box) {
          throw new Error(
            `The webhook secret of tenant "${id}" is sealed, and this server has no secret key: set JOBICO_SECRET_KEY, or restore <data>/secret-key`,
          );
        }
        try {
          return { ...w, secret: await this.#box.open(w.secret, context(id)) };
        } catch (err) {
          if (!(err instanceof SealError)) throw err;
          throw new Error(
            `The webhook secret of tenant "${id}" was sealed with another secret key: set JOBICO_SECRET_KEY to that key, or restore its <data>/secret-key`,
          );
        }
      }),
    );
    return { ...c, webhookSecrets };
  }

  /** Credentials to store: their webhook secrets sealed when there is a key. */
  async #sealed(id: string, c: Credentials): Promise<Credentials> {
    const box = this.#box;
    if (!box) return c;
    return {
      ...c,
      webhookSecrets: await Promise.all(
        c.webhookSecrets.map(async (w) =>
          SecretBox.isSealed(w.secret)
            ? w
            : { ...w, secret: await box.seal(w.secret, context(id)) }
        ),
      ),
    };
  }
}

/** What a tenant's sealed secrets are bound to: they open only there. */
function context(id: string): string {
  return `tenantcred:${id}`;
}

function unknown(id: string): NotFoundError {
  return new NotFoundError(`Unknown tenant "${id}"`);
}

/** A prefix and 32 random bytes in base64url. */
function newSecret(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return prefix +
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(
      /\//g,
      "_",
    ).replace(/=+$/, "");
}
