/**
 * Every example in the help of every command, and every `jobico` command in
 * the README's code blocks, runs against a real platform and exits 0.
 */
import assert from "node:assert/strict";
import { startPlatform } from "../components/platform.ts";
import { deployGreet, type Harness, startHarness } from "../tests/_harness.ts";
import { captureIo } from "./_capture_io.ts";
import { CliContext } from "./cli_context.ts";
import { completionTree } from "./completion.ts";
import { createProgram, run } from "./main.ts";

const ROOT = new URL("../", import.meta.url);

/** Commands whose examples cannot run in a test: they serve or take the terminal. */
const NOT_RUN = ["serve", "dashboard"];
/** Commands that run until Ctrl-C: they are stopped after a moment. */
const LIVE = ["stream-from-recorder"];

/** The words of a shell command line, up to a redirection, pipe or comment. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "'" || ch === '"') {
      const end = line.indexOf(ch, i + 1);
      if (end === -1) throw new Error(`Unclosed quote in: ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (ch === " " || ch === "\t") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if ("#><|".includes(ch) && word === undefined) {
      break;
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The example lines of a help text: those under `Examples:` that start with
 * `jobico`, but for those that need a shell (variables, substitutions), as
 * in the README.
 */
function helpExamples(help: string): string[] {
  const at = help.search(/^Examples?:$/m);
  if (at === -1) return [];
  return help.slice(at).split("\n").slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith("jobico ") && !/[$`]|<\(/.test(l));
}

interface World {
  h: Harness;
  /** A second process on the same store: an executor, as in the README. */
  other: { url: string; close(): Promise<void> };
  config: string;
}

async function world(deploy: boolean): Promise<World> {
  const h = await startHarness({ workers: 1 });
  if (deploy) await deployGreet(h);
  const other = await startPlatform({
    kv: h.kv,
    adminToken: h.adminToken,
    components: ["executor"],
    workers: 1,
    port: 0,
  });
  const config = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      profiles: {
        default: { url: h.url },
        prod: { url: h.url, token: h.adminToken, tenant: "demo" },
      },
    }),
  );
  return { h, other, config };
}

async function closeWorld(w: World): Promise<void> {
  await w.other.close();
  await w.h.close();
  await Deno.remove(w.config);
}

async function runExample(w: World, line: string): Promise<void> {
  const text = line
    .replaceAll("http://127.0.0.1:8080", w.h.url)
    .replaceAll("http://127.0.0.1:8081", w.other.url);
  const args = shellWords(text).slice(1);
  const live = LIVE.includes(args[0]);
  const ctrl = new AbortController();
  const io = captureIo({
    env: {
      JOBICO_URL: w.h.url,
      JOBICO_TOKEN: w.h.adminToken,
      JOBICO_CONFIG: w.config,
    },
    signal: ctrl.signal,
  });
  const timer = live ? setTimeout(() => ctrl.abort(), 300) : undefined;
  const code = await run(args, io);
  clearTimeout(timer);
  const ok = live ? code === 0 || code === 130 : code === 0;
  assert.ok(ok, `"${line}" exited ${code}:\n${io.err()}${io.out()}`);
}

Deno.test("every example in the help runs and exits 0", async () => {
  const cwd = Deno.cwd();
  Deno.chdir(ROOT);
  try {
    const program = createProgram(new CliContext(captureIo()));
    const paths = completionTree(program).map((n) => n.path)
      .filter((p) => !NOT_RUN.includes(p[0]));
    let count = 0;
    for (const path of paths) {
      const io = captureIo();
      assert.equal(await run([...path, "--help"], io), 0);
      const examples = helpExamples(io.out());
      if (examples.length === 0) continue;
      // Each command's examples run in order on a fresh platform with the
      // greeting example deployed.
      const w = await world(true);
      try {
        for (const line of examples) {
          await runExample(w, line);
          count++;
        }
      } finally {
        await closeWorld(w);
      }
    }
    assert.ok(count >= 40, `only ${count} examples`);
  } finally {
    Deno.chdir(cwd);
  }
});

Deno.test("every jobico command in the README's code blocks runs and exits 0", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const lines: string[] = [];
  for (const block of readme.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    for (const raw of block[1].split("\n")) {
      const line = raw.trim().replace(/^deno task jobico /, "jobico ");
      if (!line.startsWith("jobico ")) continue;
      // Lines that need a shell (variables, substitutions) are not run.
      if (/[$`]|<\(/.test(line)) continue;
      if (NOT_RUN.includes(shellWords(line)[1])) continue;
      lines.push(line);
    }
  }
  assert.ok(lines.length >= 10, `only ${lines.length} README commands`);
  const cwd = Deno.cwd();
  Deno.chdir(ROOT);
  // In order, on one platform: the quickstart uploads and deploys first.
  const w = await world(false);
  try {
    for (const line of lines) await runExample(w, line);
  } finally {
    await closeWorld(w);
    Deno.chdir(cwd);
  }
});

Deno.test("shellWords splits like a shell, up to a redirection", () => {
  assert.deepEqual(
    shellWords(`jobico send demo greet '{"name":"Ada"}' --json`),
    ["jobico", "send", "demo", "greet", '{"name":"Ada"}', "--json"],
  );
  assert.deepEqual(
    shellWords(`jobico completion zsh > "\${fpath[1]}/_jobico"`),
    ["jobico", "completion", "zsh"],
  );
  assert.deepEqual(shellWords("jobico status  # a comment"), [
    "jobico",
    "status",
  ]);
});
