/**
 * The npm tools that only development uses and that run in a process of
 * their own: AssemblyScript (with binaryen, 106 MB, for
 * `deno task examples`), @scalar/openapi-parser (tests/openapi_test.ts
 * checks the API document with it) and @extism/extism (the baseline of
 * bench/executor_overhead.ts).
 *
 * They are not in deno.json's import map nor in deno.lock on purpose:
 * `deno task` downloads every package of deno.lock before it runs any task,
 * so whatever deno.lock holds, the first `deno task dev` fetches. They are
 * pinned here instead, with their own lockfile (locks/tools.lock, checked
 * with `--frozen`), and run with `deno run --no-config` so they never touch
 * deno.lock. Code that runs them imports them by a specifier held in a
 * variable (see {@linkcode DEV_TOOLS}), which `deno check .` does not
 * resolve either. `deno task lock:tools` writes locks/tools.lock again.
 *
 * @module
 */

/** The pinned specifier of each tool. */
export const DEV_TOOLS = {
  asc: "npm:assemblyscript@0.28.20/asc",
  openapiParser: "npm:@scalar/openapi-parser@0.29.22",
  extism: "npm:@extism/extism@1.0.3",
} as const;

const root = new URL("../", import.meta.url).pathname;

/** The lockfile of the tools, absolute. */
export const TOOLS_LOCK = `${root}locks/tools.lock`;

/**
 * The `deno run` arguments (after `deno`) that run `script` (a path or a
 * tool's specifier) with the tools' lockfile and no project config.
 */
export function devToolArgs(
  script: string,
  permissions: string[],
  args: string[] = [],
): string[] {
  return [
    "run",
    "--quiet",
    "--no-config",
    `--lock=${TOOLS_LOCK}`,
    "--frozen",
    ...permissions,
    script,
    ...args,
  ];
}

/** Writes locks/tools.lock again from the pinned specifiers. */
export async function writeToolsLock(): Promise<void> {
  const tmp = `${TOOLS_LOCK}.new`;
  await Deno.remove(tmp).catch(() => {});
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "cache",
      "--quiet",
      "--no-config",
      `--lock=${tmp}`,
      ...Object.values(DEV_TOOLS),
    ],
    cwd: root,
    stderr: "piped",
  }).output();
  if (code !== 0) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `deno cache of the dev tools failed: ${new TextDecoder().decode(stderr)}`,
    );
  }
  await Deno.rename(tmp, TOOLS_LOCK);
}

if (import.meta.main) {
  await Deno.mkdir(`${root}locks`, { recursive: true });
  await writeToolsLock();
  console.log(`wrote ${TOOLS_LOCK}`);
}
