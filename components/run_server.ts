/** Opens the store and serves the platform until SIGINT or SIGTERM. */
import { jsonLogger, type Logger, openKv } from "../goico/mod.ts";
import { servePlatformUntilSignal } from "./platform.ts";
import type { ServerConfig } from "./server_config.ts";

export async function runServer(
  config: ServerConfig,
  logger: Logger = jsonLogger({ level: config.logLevel }),
): Promise<void> {
  const kv = await openKv(config.data);
  logger.info("starting", {
    data: config.data,
    auth: config.options.adminToken
      ? "admin token required"
      : "open (no JOBICO_ADMIN_TOKEN)",
  });
  try {
    await servePlatformUntilSignal({ ...config.options, kv, logger });
  } finally {
    kv.close();
  }
}
