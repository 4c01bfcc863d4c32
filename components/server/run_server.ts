/** Opens the store and serves the platform until SIGINT or SIGTERM. */
import { jsonLogger, type Logger } from "@jobico/goico";
import { isLocalDir } from "./admin_token.ts";
import { announceLocalPlatform } from "./announce_local_platform.ts";
import { openServerStore } from "./open_server_store.ts";
import { COMPONENTS, servePlatformUntilSignal } from "../platform.ts";
import type { ServerConfig } from "./server_config.ts";

export interface RunServerOptions {
  /** Default: JSON lines on stderr at the configured level. */
  logger?: Logger;
  /**
   * The per-user list of local platforms this one adds itself to once it
   * listens (see announce_local_platform.ts), so the CLI finds it from any
   * directory. Default: none is written (only `<data>/url`).
   */
  stateFile?: string;
}

export async function runServer(
  config: ServerConfig,
  options: RunServerOptions = {},
): Promise<void> {
  const logger = options.logger ?? jsonLogger({ level: config.logLevel });
  const { adminToken, secretKey, kv, describe, close } = await openServerStore(
    config,
    logger,
  );
  logger.info("starting", { data: config.data, kv: describe });
  // The process the CLI talks to: it serves the control plane, from a
  // directory of this machine (an executor-only process says nothing).
  const components = config.options.components ?? COMPONENTS;
  const announce = isLocalDir(config.data) && components.includes("ctl");
  try {
    await servePlatformUntilSignal(
      { ...config.options, adminToken, secretKey, kv, logger },
      announce
        ? (platform) =>
          announceLocalPlatform({
            data: config.data,
            url: platform.url,
            stateFile: options.stateFile,
            logger,
          })
        : undefined,
    );
  } finally {
    await close();
  }
}
