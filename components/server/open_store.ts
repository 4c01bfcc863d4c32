/**
 * Opens the store a server's settings name: the PostgreSQL database of
 * JOBICO_STORE, else the Deno KV of JOBICO_KV, else the one in the data
 * directory.
 */
import { type Logger, openKv, openKvAt, openPgKv } from "@jobico/goico";
import { redactUrl, type ServerConfig } from "./server_config.ts";

/** An open store and how to close it. */
export interface OpenStore {
  kv: Deno.Kv;
  /** What the store is, for logs (a URL's password hidden). */
  describe: string;
  /** Closes it, waiting for its connections to end. */
  close(): Promise<void>;
}

export async function openStore(
  config: Pick<ServerConfig, "data" | "kv" | "store">,
  logger: Logger,
): Promise<OpenStore> {
  if (config.store) {
    const kv = await openPgKv(config.store, {
      onError: (err) =>
        logger.warn("store watch failed", { error: String(err) }),
    });
    return {
      kv,
      describe: redactUrl(config.store),
      close: () => kv.closed(),
    };
  }
  const kv = config.kv
    ? await openKvAt(config.kv, { logger })
    : await openKv(config.data, { logger });
  return {
    kv,
    describe: config.kv ?? "in data",
    close: () => Promise.resolve(kv.close()),
  };
}
