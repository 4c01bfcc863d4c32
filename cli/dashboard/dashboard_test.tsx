/**
 * The dashboard on real data: the platform on port 0 with the greet
 * example deployed, rendered by ink-testing-library at 80x24.
 */
import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { deployGreet, startHarness } from "../../tests/_harness.ts";
import { JobicoClient } from "../client.ts";
import { stripAnsi } from "../output.ts";
import { Dashboard } from "./dashboard.tsx";
import { DashboardModel } from "./dashboard_model.ts";

const KEY = {
  up: "\x1b[A",
  down: "\x1b[B",
  right: "\x1b[C",
  left: "\x1b[D",
  enter: "\r",
  tab: "\t",
  escape: "\x1b",
};
const PAGE_DOWN = "\x1b[6~";

/** The tree pane's part of the screen (its first 28 columns at 80x24). */
function treeColumn(screen: string): string {
  return screen.split("\n").map((l) => [...l].slice(0, 28).join("")).join(
    "\n",
  );
}

/** Polls the screen until `pred` holds; fails with the last screen. */
async function until(
  screen: () => string,
  pred: (text: string) => boolean,
  what: string,
  ms = 10_000,
): Promise<string> {
  const deadline = Date.now() + ms;
  let text = screen();
  while (!pred(text)) {
    if (Date.now() > deadline) {
      throw new Error(`Never saw ${what}; the screen was:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 20));
    text = screen();
  }
  return text;
}

Deno.test("dashboard at 80x24 on a real platform: tree, details, keys, filter, live executions", async (t) => {
  const h = await startHarness();
  await deployGreet(h);
  const client = new JobicoClient({ url: h.url, token: h.adminToken });
  const model = new DashboardModel({ client, refreshMs: 60_000 });
  let quit = false;
  const app = render(
    <Dashboard
      model={model}
      size={{ columns: 80, rows: 24 }}
      colors={false}
      onQuit={() => quit = true}
    />,
  );
  const screen = () => stripAnsi(app.lastFrame() ?? "");
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      app.stdin.write(key);
      // Ink reads a lone ESC as the start of a sequence for a moment.
      await new Promise((r) => setTimeout(r, key === KEY.escape ? 60 : 5));
    }
  };
  try {
    await model.start();

    await t.step(
      "the tree lists the platform, the tenant and its parts",
      async () => {
        const text = await until(
          screen,
          (s) => s.includes("greetings") && s.includes("● ok"),
          "the tree",
        );
        const lines = text.split("\n");
        assert.equal(lines.length, 24, "24 rows");
        for (const line of lines) {
          assert.ok([...line].length <= 80, `at most 80 columns: ${line}`);
        }
        for (
          const part of [
            "platform",
            "▾ demo",
            "▾ packages",
            "greet",
            "▾ files",
            "audit.wasm",
            "greet.wasm",
            "▾ queues",
            "greetings",
            "Executions",
            "q quit",
          ]
        ) assert.ok(text.includes(part), `shows ${part}`);
        assert.match(
          lines[0],
          /Jobico 0\.1\.0 │ 127\.0\.0\.1:\d+ │ ● ok │ admin/,
        );
        // The platform is selected first: its health and components.
        assert.match(text, /status\s+● ok/);
        assert.match(
          text,
          /components ctl, repo, listener, executor, recorder/,
        );
      },
    );

    await t.step("down to the package shows its YAML", async () => {
      await press(KEY.down, KEY.down, KEY.down);
      let text = await until(
        screen,
        (s) => s.includes("# The greeting example"),
        "the package's YAML",
      );
      assert.match(text, /Package greet/);
      assert.match(text, /deployed\s+\d{4}-\d\d-\d\d .* by admin/);
      // Tab to the details and page down to the jobs.
      await press(KEY.tab, PAGE_DOWN);
      text = await until(screen, (s) => s.includes("queues:"), "a page down");
      assert.match(text, /tenant: demo/);
      assert.match(text, / 13-24\/\d+ ─╮/, "the title tells the position");
      await press(KEY.escape); // back to the tree
    });

    await t.step(
      "a module shows size, sha-256, imports and exports",
      async () => {
        await press(KEY.down, KEY.down, KEY.down, KEY.down); // files, audit, schema, greet.wasm
        let text = await until(
          screen,
          (s) => s.includes("imports (5)"),
          "greet.wasm's details",
        );
        assert.match(text, /File greet\.wasm/);
        assert.match(text, /size\s+30183 bytes/);
        assert.match(text, /the bytes match the sha-256/);
        assert.match(text, /env\.log/);
        await press(KEY.tab, PAGE_DOWN);
        text = await until(screen, (s) => s.includes("exports (7)"), "exports");
        assert.match(text, /malloc\s+function/);
        assert.match(text, /memory\s+memory/);
        await press(KEY.escape);
      },
    );

    await t.step("a schema shows its content", async () => {
      await press(KEY.up); // greet.schema.json
      await until(
        screen,
        (s) => s.includes("File greet.schema.json") && s.includes('"$schema"'),
        "the schema",
      );
      await press(KEY.tab, PAGE_DOWN);
      const text = await until(
        screen,
        (s) => s.includes('"required"'),
        "the schema's content",
      );
      assert.match(text, /"name"/);
      await press(KEY.escape);
    });

    await t.step(
      "a queue shows its counters; left goes up and folds",
      async () => {
        await press(KEY.down, KEY.down, KEY.down, KEY.down, KEY.down); // greet.wasm, result, queues, audit, greetings
        let text = await until(
          screen,
          (s) => s.includes("Queue greetings"),
          "the queue",
        );
        assert.match(text, /depth\s+0/);
        assert.match(text, /in flight\s+0/);
        await press(KEY.left); // to "queues": a table of the queues
        text = await until(
          screen,
          (s) => s.includes("demo queues"),
          "the group",
        );
        assert.match(text, /queue\s+depth\s+flight\s+delay\s+dead\s+done/);
        await press(KEY.left); // folds it
        text = await until(screen, (s) => s.includes("▸ queues"), "folded");
        assert.ok(
          !treeColumn(text).includes("greetings"),
          "its queues are hidden",
        );
        await press(KEY.enter); // enter opens it again
        await until(screen, (s) => s.includes("▾ queues"), "unfolded");
      },
    );

    await t.step("/ filters the tree; esc clears the filter", async () => {
      await press("/", "a", "u", "d");
      let text = await until(
        screen,
        (s) => s.includes("filter tree: aud"),
        "the filter prompt",
      );
      await press(KEY.enter);
      text = await until(screen, (s) => s.includes("/aud"), "the kept filter");
      const tree = treeColumn(text);
      assert.ok(tree.includes("audit.wasm"));
      assert.ok(tree.includes("audit "), "the audit queue");
      assert.ok(!tree.includes("greet.wasm"), "greet.wasm is filtered out");
      assert.ok(!tree.includes("platform"), "so is the platform");
      await press(KEY.escape);
      text = await until(screen, (s) => s.includes("greet.wasm"), "all again");
      assert.ok(text.includes("platform"));
    });

    await t.step(
      "a new execution appears live and opens with enter",
      async () => {
        await until(
          screen,
          () => model.snapshot().tenants.every((x) => x.live),
          "the stream open",
        );
        await h.send("demo", "greet", [{ name: "Ada" }, { name: "Voldemort" }]);
        let text = await until(
          screen,
          (s) => s.includes("Hello, Ada!") && s.includes("demo/greeted"),
          "the executions",
        );
        assert.match(
          text,
          /ok\s+demo\/greet\s+[\d.]+m?s\s+\{"greeting":"Hello, Ada!"\}/,
        );
        assert.match(text, /error\s+demo\/greet\s+.*Voldemort/);
        // Tab twice to the executions; filter them, then open the one left.
        await press(KEY.tab, KEY.tab, "/", "e", "r", "r", "o", "r", KEY.enter);
        text = await until(screen, (s) => s.includes("/error"), "the filter");
        assert.ok(!text.includes("Hello, Ada!"), "ok ones are filtered out");
        await press(KEY.enter);
        text = await until(
          screen,
          (s) => s.includes("Execution 0"),
          "the execution's details",
        );
        assert.match(text, /status\s+error\s+code 1/);
        assert.match(text, /event\s+greet/);
      },
    );

    await t.step("q quits", async () => {
      await press(KEY.escape, "q");
      await until(screen, () => quit, "the quit");
    });
  } finally {
    app.unmount();
    app.cleanup();
    await model.close();
    await h.close();
  }
});
