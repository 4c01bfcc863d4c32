/**
 * One isolate of `deno serve --parallel serve.ts`: each isolate opens the
 * same store and runs the platform's HTTP side (and, when its components
 * include it, an executor) from the JOBICO_* settings. Isolates of one
 * process see definition changes at once (`kv.watch` crosses isolates);
 * they share nothing else but the store.
 */
import {
  DomainError,
  type Logger,
  onShutdownSignal,
  problemResponse,
} from "@jobico/goico";
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
    const { adminToken, secretKey, kv, close } = await openStore(
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
  let failed: Response | undefined;
  ready.catch((err) => {
    logger.error("isolate failed to start", { instance, error: String(err) });
    failed = problemResponse(
      new DomainError(
        "store_unavailable",
        `This server's isolate ${instance} failed to start; the server's log says why`,
      ),
    );
  });
  return async (req) => {
    const app = await ready.catch(() => undefined);
    return app ? app.fetch(req) : failed!.clone();
  };
}

/**
 * Opens the store, trying again twice (after 250 and 500 ms): isolates and
 * processes starting on one data directory at once can meet each other's
 * files half made.
 */
async function openStore(config: ServerConfig, logger: Logger) {
  for (let attempt = 1;; attempt++) {
    try {
      return await openServerStore(config, logger);
    } catch (err) {
      if (attempt === 3) throw err;
      logger.warn("opening the store failed; trying again", {
        attempt,
        error: String(err),
      });
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}
