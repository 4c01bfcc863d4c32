/**
 * `deno task dev`: the platform in one process, every component unless
 * JOBICO_COMPONENTS says otherwise. The settings are JOBICO_* variables,
 * listed in components/server/server_config.ts and the README (`jobico serve`
 * takes the same settings as flags).
 */
import { localPlatformsFile } from "./components/server/announce_local_platform.ts";
import { runServer } from "./components/server/run_server.ts";
import { SettingError } from "./components/server/setting_error.ts";
import {
  serverConfig,
  settingsFromEnv,
} from "./components/server/server_config.ts";

if (import.meta.main) {
  let config;
  try {
    config = serverConfig(settingsFromEnv((n) => Deno.env.get(n)));
  } catch (err) {
    if (!(err instanceof SettingError)) throw err;
    console.error(err.message);
    Deno.exit(2);
  }
  // The CLI finds this platform from any directory through this file.
  const stateFile = localPlatformsFile({
    XDG_STATE_HOME: Deno.env.get("XDG_STATE_HOME"),
    HOME: Deno.env.get("HOME"),
  });
  await runServer(config, { stateFile });
}
