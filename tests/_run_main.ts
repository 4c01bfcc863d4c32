/** The arguments of `deno run` that start main.ts (`deno task dev`) from anywhere. */
export const RUN_MAIN: string[] = [
  "run",
  "--config",
  new URL("../deno.json", import.meta.url).pathname,
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  new URL("../main.ts", import.meta.url).pathname,
];

/** The arguments of `deno run` that start the `jobico` CLI (`deno task jobico`). */
export const RUN_CLI: string[] = [
  "run",
  "--config",
  new URL("../deno.json", import.meta.url).pathname,
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=hostname,osRelease",
  new URL("../cli/main.ts", import.meta.url).pathname,
];
