/**
 * Where the platforms that tests and benchmarks start list themselves
 * (XDG_STATE_HOME, see components/server/announce_local_platform.ts): a directory
 * of the temporary directory, so that they never take the place of the
 * user's own platform in `~/.local/state/jobico/platforms.json`.
 */
export const TEST_STATE_HOME = `${
  (Deno.env.get("TMPDIR") || "/tmp").replace(/\/+$/, "")
}/jobico-test-state`;
