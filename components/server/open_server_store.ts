/**
 * What every way of serving the platform opens first, in one place: the
 * admin token, the key sealing webhook secrets, and the store (see
 * open_store.ts: JOBICO_STORE's PostgreSQL, else the KV named by
 * `config.kv`, else the one in the data directory).
 */
import type { Logger } from "@jobico/goico";
import { resolveAdminToken } from "./admin_token.ts";
import { resolveSecretKey } from "./secret_key.ts";
import type { ServerConfig } from "./server_config.ts";
import { openStore } from "./open_store.ts";

/** The store and the secrets a server runs with. */
export interface ServerStore {
  adminToken: string;
  /** `null`: webhook secrets are kept in clear (see secret_key.ts). */
  secretKey: Uint8Array | null;
  kv: Deno.Kv;
  /** What the store is, for logs (a URL's password hidden). */
  describe: string;
  /** Closes the store, waiting for its connections to end. */
  close(): Promise<void>;
}

/** Resolves the secrets and opens the store of `config`. */
export async function openServerStore(
  config: ServerConfig,
  logger: Logger,
): Promise<ServerStore> {
  const adminToken = await resolveAdminToken(
    config.options.adminToken,
    config.data,
    logger,
  );
  const secretKey = await resolveSecretKey(
    config.options.secretKey,
    config.data,
    logger,
  );
  const store = await openStore(config, logger);
  return { adminToken, secretKey, ...store };
}
