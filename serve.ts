/**
 * The platform for `deno serve`, which can run it in several isolates that
 * share the listening port:
 *
 *   deno serve --parallel --port 8080 -A --unstable-kv --unstable-worker-options serve.ts
 *   (or: deno task serve:parallel)
 *
 * Each isolate reads the same JOBICO_* settings as `deno task dev` (except
 * JOBICO_PORT and JOBICO_HOST: `deno serve` takes --port and --host) and
 * opens the same store. DENO_JOBS sets how many isolates (default: the
 * cores). Run executors in processes of their own (`jobico serve
 * --components executor`) and set JOBICO_COMPONENTS here, e.g.
 * ctl,repo,listener,recorder; see docs/scaling.md.
 */
import { jsonLogger } from "@jobico/goico";
import { serveIsolate } from "./components/server/serve_isolate.ts";
import {
  serverConfig,
  settingsFromEnv,
} from "./components/server/server_config.ts";

let handler: (req: Request) => Promise<Response> = () =>
  Promise.resolve(new Response("Not started", { status: 503 }));

if (import.meta.main) {
  const config = serverConfig(settingsFromEnv((n) => Deno.env.get(n)));
  handler = serveIsolate(config, jsonLogger({ level: config.logLevel }));
}

export default {
  fetch: (req: Request) => handler(req),
} satisfies Deno.ServeDefaultExport;
