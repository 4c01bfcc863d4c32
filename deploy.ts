/**
 * The entry point for Deno Deploy: the platform on `Deno.openKv()` (the
 * deployment's own KV: no path, no local files), configured by JOBICO_*
 * environment variables. JOBICO_ADMIN_TOKEN is required (nothing can be
 * written to disk to keep a generated one). JOBICO_COMPONENTS chooses what
 * runs here; executors can also run elsewhere, on the same KV through KV
 * Connect (`jobico serve --data https://api.deno.com/databases/<id>/connect
 * --components executor` with DENO_KV_ACCESS_TOKEN). See docs/scaling.md.
 *
 * Locally: `deno run -A --location http://jobico.local/ deploy.ts`
 * (`--location` picks which local KV `Deno.openKv()` opens).
 */
import { jsonLogger } from "@jobico/goico";
import { createPlatform } from "./components/platform.ts";
import { checkSecretKey } from "./components/server/secret_key.ts";
import {
  serverConfig,
  settingsFromEnv,
} from "./components/server/server_config.ts";

if (import.meta.main) {
  const config = serverConfig(settingsFromEnv((n) => Deno.env.get(n)));
  const logger = jsonLogger({ level: config.logLevel });
  const adminToken = config.options.adminToken;
  if (!adminToken) {
    logger.error("JOBICO_ADMIN_TOKEN is not set: set it in the deployment");
    Deno.exit(2);
  }
  const secret = config.options.secretKey;
  if (!secret) {
    logger.warn(
      "webhook secrets are stored in clear: set JOBICO_SECRET_KEY to seal them",
    );
  }
  const kv = await Deno.openKv();
  const ctrl = new AbortController();
  const parts = createPlatform(
    {
      ...config.options,
      adminToken,
      secretKey: secret ? checkSecretKey(secret) : null,
      kv,
      logger,
      instance: "deploy",
    },
    ctrl.signal,
  );
  parts.run(ctrl.signal).catch((err) =>
    logger.error("background work failed", { error: String(err) })
  );
  // Deno Deploy picks the port; PORT (or JOBICO_PORT) locally.
  const port = Number(Deno.env.get("PORT") ?? config.options.port);
  Deno.serve({
    port,
    onListen: ({ port }) =>
      logger.info("listening", { url: `http://127.0.0.1:${port}` }),
  }, parts.app.fetch);
}
