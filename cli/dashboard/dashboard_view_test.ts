import assert from "node:assert/strict";
import type { Key } from "ink";
import type { Execution } from "../api_types.ts";
import type { DashboardState } from "./dashboard_model.ts";
import {
  derive,
  handleKey,
  initialView,
  layout,
  splitKeys,
  type ViewState,
} from "./dashboard_view.ts";
import { executionLines, platformLines } from "./detail_lines.ts";

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

function execution(id: string, status: Execution["status"]): Execution {
  return {
    id,
    eventId: `e${id}`,
    tenant: "demo",
    package: "greet",
    event: "greet",
    queue: "greetings",
    status,
    code: status === "ok" ? 0 : 1,
    result: status === "ok" ? '{"greeting":"Hello"}' : "nope",
    error: null,
    logs: [],
    attempt: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    durationMs: 3,
  };
}

const STATE: DashboardState = {
  url: "http://127.0.0.1:8080",
  loading: false,
  tenants: [{
    id: "demo",
    live: true,
    streamed: true,
    packages: [],
    files: [],
    queues: [],
  }],
  executions: [
    execution("3", "ok"),
    execution("2", "error"),
    execution("1", "ok"),
  ],
  details: {},
};
const LAYOUT = layout(80, 24);

/** Presses keys: names of Key flags, or text. */
function press(view: ViewState, ...keys: (keyof Key | string)[]) {
  const effects = [];
  for (const k of keys) {
    const isFlag = k in NO_KEY;
    const d = derive(STATE, view, LAYOUT);
    effects.push(
      handleKey(
        view,
        d,
        LAYOUT,
        isFlag ? "" : k,
        isFlag ? { ...NO_KEY, [k]: true } : NO_KEY,
      ),
    );
  }
  return effects;
}

Deno.test("layout at 80x24: header, tree and details, executions, keys", () => {
  assert.equal(LAYOUT.topHeight + LAYOUT.execHeight + 2, 24);
  assert.equal(LAYOUT.treeWidth + LAYOUT.detailWidth, 80);
  assert.equal(LAYOUT.inner.executions.height, 6);
  assert.equal(LAYOUT.inner.tree.height, 12);
});

Deno.test("tab cycles the panes, shift-tab goes back, q quits, r refreshes", () => {
  const view = initialView();
  press(view, "tab");
  assert.equal(view.focus, "detail");
  press(view, "tab");
  assert.equal(view.focus, "executions");
  press(view, "tab");
  assert.equal(view.focus, "tree");
  press(view, "shift");
  assert.equal(view.focus, "tree", "shift alone is no key");
  handleKey(view, derive(STATE, view, LAYOUT), LAYOUT, "", {
    ...NO_KEY,
    tab: true,
    shift: true,
  });
  assert.equal(view.focus, "executions");
  assert.deepEqual(press(view, "q", "r"), ["quit", "refresh"]);
});

Deno.test("arrows move and fold the tree; enter opens a group or focuses the details", () => {
  const view = initialView();
  press(view, "downArrow");
  assert.equal(view.treeKey, "t/demo");
  press(view, "leftArrow");
  assert.equal(view.open.get("t/demo"), false);
  press(view, "rightArrow");
  assert.equal(view.open.get("t/demo"), true);
  press(view, "rightArrow"); // open already: to the first child
  assert.equal(view.treeKey, "t/demo/packages");
  press(view, "leftArrow", "leftArrow"); // fold, then to the parent
  assert.equal(view.treeKey, "t/demo");
  press(view, "return");
  assert.equal(view.open.get("t/demo"), false);
  press(view, "upArrow", "return"); // the platform is a leaf
  assert.equal(view.focus, "detail");
  press(view, "escape");
  assert.equal(view.focus, "tree");
});

Deno.test("executions: the cursor follows the newest until moved; enter opens one", () => {
  const view = initialView();
  press(view, "tab", "tab");
  assert.equal(derive(STATE, view, LAYOUT).execCursor, 0);
  press(view, "downArrow");
  assert.equal(view.execId, "2");
  press(view, "return");
  assert.equal(view.opened?.id, "2");
  assert.equal(view.focus, "detail");
  const d = derive(STATE, view, LAYOUT);
  assert.equal(d.detail.title, "Execution");
  press(view, "escape");
  assert.equal(view.focus, "executions", "esc goes back where it came from");
  press(view, "home");
  assert.equal(view.execId, null);
});

Deno.test("/ types a filter for the focused pane; enter keeps it, esc clears it", () => {
  const view = initialView();
  press(view, "tab", "tab", "/", "e", "r", "x", "backspace", "r");
  assert.equal(view.editing, "executions");
  assert.equal(view.filters.executions, "err");
  assert.deepEqual(
    derive(STATE, view, LAYOUT).executions.map((e) => e.id),
    ["2"],
  );
  press(view, "return");
  assert.equal(view.editing, undefined);
  assert.equal(view.filters.executions, "err");
  press(view, "q");
  press(view, "escape");
  assert.equal(view.filters.executions, "");
  press(view, "tab", "/", "p", "l", "a", "escape");
  assert.equal(view.filters.tree, "", "esc while typing clears");
  assert.equal(view.editing, undefined);
});

Deno.test("splitKeys: a burst of characters becomes one key each", () => {
  assert.deepEqual(splitKeys("q", NO_KEY), [["q", NO_KEY]]);
  const keys = splitKeys("\t\tj\r", NO_KEY);
  assert.deepEqual(keys.map(([input]) => input), ["", "", "j", ""]);
  assert.deepEqual(keys.map(([, k]) => k.tab), [true, true, false, false]);
  assert.equal(keys[3][1].return, true);
});

Deno.test("the Platform pane says how many package changes the process loaded, in one line", () => {
  const lines = platformLines({
    ...STATE,
    meta: {
      name: "jobico",
      version: "0.1.0",
      components: ["ctl", "listener"],
      definitionsGeneration: 3,
      definitionsSeen: 2,
      definitionsLatest: 2,
    },
  }).map((line) => line.map((s) => s.text).join(""));
  const packages = lines.filter((l) => l.startsWith("packages"));
  assert.deepEqual(packages.length, 1, lines.join("\n"));
  assert.match(
    packages[0],
    /^packages\s+loaded 2 of 2 changes \(generation 3\)$/,
  );
  // No field's name is cut short.
  assert.ok(!lines.some((l) => /^\s*\S+…/.test(l)), lines.join("\n"));
});

Deno.test("an execution's log message of several lines is a row each, under its level", () => {
  const e: Execution = {
    ...execution("9", "ok"),
    logs: [{
      level: "warn",
      message: "first\r\nsecond\nthird\n",
      source: "module",
    }],
  };
  const rows = executionLines(e).map((l) => l.map((s) => s.text).join(""));
  const at = rows.indexOf("[warn] first");
  assert.ok(at > 0, rows.join("\n"));
  assert.deepEqual(rows.slice(at, at + 3), [
    "[warn] first",
    "       second",
    "       third",
  ]);
});
