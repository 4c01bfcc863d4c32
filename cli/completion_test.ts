import assert from "node:assert/strict";
import { captureIo } from "./_capture_io.ts";
import { CliContext } from "./cli_context.ts";
import { completionTree } from "./completion.ts";
import { createProgram, run } from "./main.ts";

const ROOT = new URL("../", import.meta.url);

async function has(shell: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(shell, {
      args: ["-c", "exit 0"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const HAS_BASH = await has("bash");
const HAS_ZSH = await has("zsh");

async function script(shell: "bash" | "zsh"): Promise<string> {
  const io = captureIo();
  assert.equal(await run(["completion", shell], io), 0, io.err());
  assert.equal(io.err(), "");
  const file = await Deno.makeTempFile({ suffix: `.${shell}` });
  await Deno.writeTextFile(file, io.out());
  return file;
}

/** A word quoted for bash and zsh. */
const q = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

/**
 * Completes the last of `words` as bash would on Tab: COMP_WORDS and
 * COMP_CWORD set, the generated function called, COMPREPLY printed.
 */
async function bashComplete(file: string, words: string[]): Promise<string[]> {
  const code = `source ${q(file)}
COMP_WORDS=(${words.map(q).join(" ")})
COMP_CWORD=${words.length - 1}
COMPREPLY=()
_jobico_completion
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const res = await new Deno.Command("bash", {
    args: ["--norc", "--noprofile", "-c", code],
    cwd: ROOT,
  }).output();
  const err = new TextDecoder().decode(res.stderr);
  assert.ok(res.success, err);
  assert.equal(err, "");
  return new TextDecoder().decode(res.stdout).split("\n").filter((l) => l);
}

const sorted = (a: string[]) => [...a].sort();

Deno.test({
  name: "completion bash: the script is valid bash and completes commands",
  ignore: !HAS_BASH,
  fn: async () => {
    const file = await script("bash");
    try {
      const syntax = await new Deno.Command("bash", { args: ["-n", file] })
        .output();
      assert.ok(syntax.success, new TextDecoder().decode(syntax.stderr));
      const complete = (...words: string[]) => bashComplete(file, words);
      assert.deepEqual(await complete("jobico", "pa"), ["packages"]);
      assert.deepEqual(await complete("jobico", "upload-"), [
        "upload-wasm",
        "upload-schema",
      ]);
      // An option's value is skipped, --opt=value too.
      assert.deepEqual(
        await complete("jobico", "--url", "http://x", "pack"),
        ["packages"],
      );
      assert.deepEqual(
        await complete("jobico", "--token=abc", "--profile", "p", "que"),
        ["queues"],
      );
      assert.deepEqual(await complete("jobico", "queues", "l"), [
        "list",
        "ls",
        "limits",
      ]);
      // Aliases lead to the command they name.
      assert.deepEqual(
        await complete("jobico", "tenants", "rotate"),
        ["rotate-token"],
      );
      assert.deepEqual(
        await complete("jobico", "executions", "ls", "demo", "--status", ""),
        ["ok", "error", "failed"],
      );
      assert.deepEqual(
        sorted(await complete("jobico", "deploy", "--wa")),
        ["--wait", "--wait-for", "--wait-timeout", "--wasm"],
      );
      // The program's options work after a command.
      assert.deepEqual(await complete("jobico", "status", "--pro"), [
        "--profile",
      ]);
      assert.deepEqual(await complete("jobico", "completion", ""), [
        "bash",
        "zsh",
      ]);
      // Arguments are files.
      assert.deepEqual(
        await complete("jobico", "deploy", "examples/greet/job.y"),
        ["examples/greet/job.yaml"],
      );
      assert.deepEqual(
        await complete("jobico", "deploy", "--config", "examples/greet/job."),
        ["examples/greet/job.yaml"],
      );
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name:
    "completion bash: every command of the tree completes its subcommands and options",
  ignore: !HAS_BASH,
  fn: async () => {
    const file = await script("bash");
    try {
      const tree = completionTree(createProgram(new CliContext(captureIo())));
      assert.ok(tree.length > 20, `${tree.length} commands`);
      for (const node of tree) {
        const words = ["jobico", ...node.path];
        if (node.commands.length) {
          assert.deepEqual(
            sorted(await bashComplete(file, [...words, ""])),
            sorted(node.commands.flatMap((c) => [c.name, ...c.aliases])),
            words.join(" "),
          );
        }
        const flags = node.options.flatMap((o) => o.flags)
          .filter((f) => f.startsWith("--"));
        assert.deepEqual(
          sorted(await bashComplete(file, [...words, "--"])),
          sorted([...new Set(flags)]),
          `${words.join(" ")} --`,
        );
      }
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "completion zsh: the script is valid zsh and completes commands",
  ignore: !HAS_ZSH,
  fn: async () => {
    const file = await script("zsh");
    try {
      const syntax = await new Deno.Command("zsh", { args: ["-n", file] })
        .output();
      assert.ok(syntax.success, new TextDecoder().decode(syntax.stderr));
      // compsys is stubbed: _describe, compadd and _files print what they get.
      const complete = async (...words: string[]) => {
        const code = `compdef() { :; }
source ${q(file)}
_describe() { local arr=(\${(P)\${@[-1]}}); print -rl -- "\${arr[@]%%:*}"; }
compadd() { shift; print -rl -- "$@"; }
_files() { print -- "<files>"; }
words=(${words.map(q).join(" ")})
CURRENT=${words.length}
_jobico`;
        const res = await new Deno.Command("zsh", { args: ["-f", "-c", code] })
          .output();
        const err = new TextDecoder().decode(res.stderr);
        assert.equal(err, "");
        return new TextDecoder().decode(res.stdout).split("\n").filter((l) =>
          l
        );
      };
      const top = await complete("jobico", "");
      for (const name of ["deploy", "upload-wasm", "status", "completion"]) {
        assert.ok(top.includes(name), name);
      }
      // The queues command's subcommands, as the program has them.
      const queues = completionTree(createProgram(new CliContext(captureIo())))
        .find((n) => n.path.join(" ") === "queues")!;
      assert.ok(queues.commands.some((c) => c.name === "delayed"));
      assert.deepEqual(
        sorted(await complete("jobico", "--url", "http://x", "queues", "")),
        sorted(queues.commands.flatMap((c) => [c.name, ...c.aliases])),
      );
      assert.deepEqual(
        await complete("jobico", "executions", "list", "demo", "--status", ""),
        ["ok", "error", "failed"],
      );
      assert.ok((await complete("jobico", "deploy", "--")).includes("--wait"));
      assert.deepEqual(await complete("jobico", "completion", ""), [
        "bash",
        "zsh",
      ]);
      assert.deepEqual(await complete("jobico", "deploy", ""), ["<files>"]);
    } finally {
      await Deno.remove(file);
    }
  },
});
