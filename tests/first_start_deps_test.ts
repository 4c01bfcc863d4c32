/**
 * What a first `deno task dev` downloads: `deno task` fetches every npm
 * package of deno.lock before it runs a task, so deno.lock must not hold the
 * tools only builds, tests of the API document and benchmarks run
 * (assemblyscript with binaryen, @scalar/openapi-parser, @extism/extism:
 * 114 MB of the 155 MB a fresh cache took). They are pinned in
 * scripts/dev_tools.ts with their own lockfile. bench/first_start.ts
 * measures the download on an empty cache.
 */
import assert from "node:assert/strict";
import { DEV_TOOLS, TOOLS_LOCK } from "../scripts/dev_tools.ts";
import { VERSION } from "../components/version.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OUT_OF_LOCK = [
  "assemblyscript",
  "binaryen",
  "@scalar/openapi-parser",
  "@extism/extism",
];

/** The package names of a lockfile's npm section (`name@version...` keys). */
function packageNames(lock: { npm?: Record<string, unknown> }): string[] {
  return Object.keys(lock.npm ?? {}).map((k) =>
    k.startsWith("@") ? "@" + k.slice(1).split("@")[0] : k.split("@")[0]
  );
}

Deno.test("deno.lock and the import map hold no build or benchmark tool", async () => {
  const lock = JSON.parse(await Deno.readTextFile(`${ROOT}deno.lock`));
  const names = packageNames(lock);
  for (const tool of OUT_OF_LOCK) {
    assert.ok(!names.includes(tool), `deno.lock holds ${tool}`);
  }
  // The root's import map and each workspace member's.
  const root = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  for (const dir of [".", ...root.workspace as string[]]) {
    const imports = JSON.parse(
      await Deno.readTextFile(`${ROOT}${dir}/deno.json`),
    ).imports as Record<string, string>;
    for (const spec of Object.values(imports)) {
      for (const tool of OUT_OF_LOCK) {
        assert.ok(
          !spec.includes(`npm:${tool}@`),
          `the import map of ${dir} has ${spec}`,
        );
      }
    }
  }
});

Deno.test("no module imports a dev tool by a literal specifier (deno check would lock it)", async () => {
  const offenders: string[] = [];
  const tools = OUT_OF_LOCK.filter((t) => t !== "binaryen");
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (![".git", ".jobico", "node_modules"].includes(e.name)) {
          await walk(path);
        }
      } else if (/\.(ts|tsx)$/.test(e.name)) {
        const text = await Deno.readTextFile(path);
        for (const tool of tools) {
          const literal = new RegExp(
            `(from|import\\()\\s*["'\`](npm:)?${
              tool.replace(/[/.]/g, "\\$&")
            }[@/"'\`]`,
          );
          if (literal.test(text)) offenders.push(`${path}: ${tool}`);
        }
      }
    }
  };
  await walk(ROOT.replace(/\/$/, ""));
  assert.deepEqual(offenders, []);
});

Deno.test("locks/tools.lock pins the dev tools, and they run with it frozen", async () => {
  const lock = JSON.parse(await Deno.readTextFile(TOOLS_LOCK));
  assert.deepEqual(
    Object.keys(lock.specifiers).sort(),
    Object.values(DEV_TOOLS).map((s) => s.replace(/\/asc$/, "")).sort(),
  );
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "cache",
      "--quiet",
      "--no-config",
      `--lock=${TOOLS_LOCK}`,
      "--frozen",
      ...Object.values(DEV_TOOLS),
    ],
    cwd: ROOT,
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
});

Deno.test("deno task jobico prints its answer and nothing else of Deno's", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  // Deno's own messages (`Download ...` on a cache that lacks a package's
  // metadata) go: the task runs Deno quietly.
  assert.match(tasks.jobico, /deno run --quiet /);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "jobico", "--version"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0);
  assert.equal(new TextDecoder().decode(stdout), `${VERSION}\n`);
  assert.equal(new TextDecoder().decode(stderr), "");
});
