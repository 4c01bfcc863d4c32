/** Opens the store and serves the platform until SIGINT or SIGTERM. */
import { jsonLogger, type Logger, openKv, openKvAt } from "../goico/mod.ts";
import { resolveAdminToken } from "./admin_token.ts";
import { resolveSecretKey } from "./secret_key.ts";
import { servePlatformUntilSignal } from "./platform.ts";
import type { ServerConfig } from "./server_config.ts";

export async function runServer(
  config: ServerConfig,
  logger: Logger = jsonLogger({ level: config.logLevel }),
): Promise<void> {
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
  const kv = config.kv
    ? await openKvAt(config.kv, { logger })
    : await openKv(config.data, { logger });
  logger.info("starting", { data: config.data, kv: config.kv ?? "in data" });
  try {
    await servePlatformUntilSignal({
      ...config.options,
      adminToken,
      secretKey,
      kv,
      logger,
    });
  } finally {
    kv.close();
  }
}
