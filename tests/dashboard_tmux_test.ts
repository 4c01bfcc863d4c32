/**
 * `jobico dashboard` end to end, as a person uses it: a real platform on
 * port 0, the CLI in a detached tmux session of 80x24, keys sent with
 * send-keys, the screen read with capture-pane. Skipped (with a message)
 * where tmux is not installed; .ci/run installs it.
 */
import assert from "node:assert/strict";
import { deployGreet, startHarness } from "./_harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function tmuxVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("tmux", { args: ["-V"] }).output();
    return out.success
      ? new TextDecoder().decode(out.stdout).trim()
      : undefined;
  } catch {
    return undefined;
  }
}

const TMUX = await tmuxVersion();
if (!TMUX) {
  console.warn(
    "tmux is not installed: skipping the dashboard's tmux test " +
      "(install it with: apt-get install -y tmux)",
  );
}

/** tmux on a socket of its own, so the test never touches the user's sessions. */
class Tmux {
  readonly socket: string;
  readonly stderrFile: string;
  constructor(dir: string) {
    this.socket = `${dir}/tmux.sock`;
    this.stderrFile = `${dir}/stderr.log`;
  }

  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(
        `tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return text;
  }

  /** The visible screen; with `escapes`, colours included. */
  capture(escapes = false): Promise<string> {
    return this.run(
      "capture-pane",
      "-p",
      ...escapes ? ["-e"] : [],
      "-t",
      "dash",
    );
  }

  /** Sends keys one at a time, as typed. */
  async keys(...keys: string[]): Promise<void> {
    for (const key of keys) {
      await this.run("send-keys", "-t", "dash", key);
      await new Promise((r) => setTimeout(r, 60));
    }
  }

  /** Polls the screen until `pred` holds; fails with the last screen. */
  async until(
    pred: (screen: string) => boolean,
    what: string,
    ms = 30_000,
  ): Promise<string> {
    const deadline = Date.now() + ms;
    let screen = "";
    while (Date.now() < deadline) {
      screen = await this.capture().catch((e) => String(e));
      if (pred(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    const stderr = await Deno.readTextFile(this.stderrFile).catch(() => "");
    throw new Error(
      `Never saw ${what}; the screen was:\n${screen}\nstderr: ${stderr}`,
    );
  }
}

Deno.test({
  name:
    "jobico dashboard in tmux at 80x24: start, navigate, a new execution appears, q quits with 0",
  ignore: !TMUX,
  async fn() {
    const h = await startHarness();
    const dir = await Deno.makeTempDir({ prefix: "jobico-dashboard-" });
    const tmux = new Tmux(dir);
    try {
      await deployGreet(h);
      const exitFile = `${dir}/exit-code`;
      // Colours as a terminal user has them: CI and NO_COLOR unset.
      const command = [
        "env -u CI -u NO_COLOR",
        q(Deno.execPath()),
        "run --allow-net --allow-read --allow-write --allow-env",
        "--allow-sys=hostname,osRelease",
        "--config",
        q(`${ROOT}deno.json`),
        q(`${ROOT}cli/main.ts`),
        "dashboard --url",
        q(h.url),
        "--token",
        q(h.adminToken),
        `2> ${q(`${dir}/stderr.log`)}; echo $? > ${q(exitFile)}`,
      ].join(" ");
      await tmux.run(
        "new-session",
        "-d",
        "-s",
        "dash",
        "-x",
        "80",
        "-y",
        "24",
        "-c",
        ROOT,
        command,
      );

      // Start: the tree, the health, the keys.
      let screen = await tmux.until(
        (s) => s.includes("greetings") && s.includes("● ok"),
        "the dashboard",
      );
      const lines = screen.replace(/\n+$/, "").split("\n");
      assert.equal(lines.length, 24, "it fills the 24 rows");
      assert.match(
        lines[0],
        /^Jobico 0\.1\.0 │ 127\.0\.0\.1:\d+ │ ● ok │ admin/,
      );
      assert.match(lines[23], /q quit/);
      for (const line of lines) assert.ok([...line].length <= 80);

      // Navigate: down to the package, its YAML shows.
      await tmux.keys("Down", "Down", "Down");
      screen = await tmux.until(
        (s) => s.includes("Package greet") && s.includes("# The greeting"),
        "the package",
      );

      // An event, once the stream is open: its executions appear,
      // coloured by status.
      await tmux.until((s) => s.includes("1 tenant, 1 live"), "the stream");
      await h.send("demo", "greet", [{ name: "Tmux" }]);
      screen = await tmux.until(
        (s) => s.includes("Hello, Tmux!") && s.includes("demo/greeted"),
        "the new executions",
      );
      assert.match(
        screen,
        /ok\s+demo\/greet\s+[\d.]+m?s\s+\{"greeting":"Hello, Tmux!"\}/,
      );
      const colours = await tmux.capture(true);
      // deno-lint-ignore no-control-regex
      assert.match(colours, /\x1b\[[0-9;]*32m\s*ok/, "ok is green");

      // Tab twice to the executions, enter opens the newest in the details.
      await tmux.keys("Tab", "Tab", "End", "Enter");
      screen = await tmux.until(
        (s) => s.includes("Execution 0") && s.includes("Hello, Tmux!"),
        "the execution's details",
      );
      assert.match(screen, /status\s+ok\s+code 0/);
      await Deno.writeTextFile(`${dir}/screen.txt`, screen);

      // q quits, the process exits 0, the session ends.
      await tmux.keys("q");
      const deadline = Date.now() + 15_000;
      let code: string | undefined;
      while (Date.now() < deadline && code === undefined) {
        code = await Deno.readTextFile(exitFile).catch(() => undefined);
        if (code === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(code?.trim(), "0", "jobico dashboard exited 0");
    } finally {
      await tmux.run("kill-server").catch(() => {});
      await h.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** Single-quoted for sh. */
function q(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
