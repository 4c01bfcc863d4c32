/**
 * One isolate of `deno serve --parallel serve.ts`: each isolate opens the
 * same store and runs the platform's HTTP side (and, when its components
 * include it, an executor) from the JOBICO_* settings. Isolates of one
 * process see definition changes at once (`kv.watch` crosses isolates);
 * they share nothing else but the store.
 */
import { type Logger, onShutdownSignal } from "@jobico/goico";
import { openServerStore } from "./open_server_store.ts";
import { createPlatform } from "../platform.ts";
import type { ServerConfig } from "./server_config.ts";

/** The handler of one isolate: requests wait until its platform is built. */
export function serveIsolate(
  config: ServerConfig,
  logger: Logger,
): (req: Request) => Promise<Response> {
  const instance = `isolate-${crypto.randomUUID().slice(0, 8)}`;
  const ctrl = new AbortController();
  const ready = (async () => {
    const { adminToken, secretKey, kv, close } = await openServerStore(
      config,
      logger,
    );
    const parts = createPlatform(
      { ...config.options, adminToken, secretKey, kv, logger, instance },
      ctrl.signal,
    );
    const background = parts.run(ctrl.signal).finally(() => close());
    try {
      // Isolates that cannot listen for signals stop with the process.
      onShutdownSignal(() => ctrl.abort());
    } catch { /* not in this isolate */ }
    logger.info("isolate ready", {
      instance,
      components: config.options.components ?? "all",
    });
    background.catch((err) =>
      logger.error("background work failed", { error: String(err) })
    );
    return parts.app;
  })();
  ready.catch((err) =>
    logger.error("isolate failed to start", { error: String(err) })
  );
  return async (req) => (await ready).fetch(req);
}
