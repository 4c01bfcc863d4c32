/**
 * `deno task dev`: the whole platform in one process.
 *
 * Environment: JOBICO_PORT (default 8080), JOBICO_HOST (default 127.0.0.1),
 * JOBICO_DATA (data directory, default ./.jobico; `:memory:` for none, or a
 * KV Connect URL), JOBICO_ADMIN_TOKEN (when set, the API needs it),
 * JOBICO_LOG_LEVEL (debug, info, warn, error; default info).
 */
import { jsonLogger, type LogLevel, openKv } from "./goico/mod.ts";
import { servePlatformUntilSignal } from "./components/platform.ts";

if (import.meta.main) {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const port = Number(env("JOBICO_PORT") ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(
      `Invalid JOBICO_PORT "${
        env("JOBICO_PORT")
      }": use a port number from 0 to 65535`,
    );
    Deno.exit(2);
  }
  const data = env("JOBICO_DATA") ?? ".jobico";
  const logger = jsonLogger({
    level: (env("JOBICO_LOG_LEVEL") as LogLevel) ?? "info",
  });
  const kv = await openKv(data);
  const adminToken = env("JOBICO_ADMIN_TOKEN");
  logger.info("starting", {
    data,
    auth: adminToken ? "admin token required" : "open (no JOBICO_ADMIN_TOKEN)",
  });
  try {
    await servePlatformUntilSignal({
      kv,
      port,
      hostname: env("JOBICO_HOST"),
      adminToken,
      logger,
    });
  } finally {
    kv.close();
  }
}
