/**
 * The dashboard's screen state (focus, cursors, open nodes, filters) and
 * what the keys do to it. Kept outside React so that keys arriving in one
 * burst (a held arrow, tmux send-keys) each see the state the previous one
 * left, and so that it can be tested without a terminal.
 */
import type { Key } from "ink";
import type { DelayedEvent, Execution, PackageDetail } from "../api_types.ts";
import {
  type DashboardState,
  type FileContent,
  fileKey,
  type Loadable,
  packageKey,
} from "./dashboard_model.ts";
import {
  delayedLines,
  executionLines,
  fileLines,
  groupLines,
  packageLines,
  platformLines,
  queueLines,
  tenantLines,
} from "./detail_lines.ts";
import { filterExecutions } from "./filter_executions.ts";
import { clamp, maxScroll } from "./scroll.ts";
import type { Line } from "./styled_text.ts";
import { type TreeNode, type TreeRow, treeRows } from "./tree_rows.ts";

export type Pane = "tree" | "detail" | "executions";
export const PANES: Pane[] = ["tree", "detail", "executions"];

/** What the user changed on the screen. */
export interface ViewState {
  focus: Pane;
  /** Nodes opened or closed by the user, by key. */
  open: Map<string, boolean>;
  /** The tree row under the cursor. */
  treeKey: string;
  /** The execution under the cursor; null follows the newest. */
  execId: string | null;
  /** The execution shown in the detail pane instead of the tree's node. */
  opened: Execution | null;
  /** The first line of the detail pane. */
  scroll: number;
  filters: { tree: string; executions: string };
  /** Whose filter is being typed. */
  editing?: "tree" | "executions";
}

export function initialView(): ViewState {
  return {
    focus: "tree",
    open: new Map(),
    treeKey: "platform",
    execId: null,
    opened: null,
    scroll: 0,
    filters: { tree: "", executions: "" },
  };
}

/** The sizes of the panes, from the screen's. */
export interface Layout {
  columns: number;
  rows: number;
  topHeight: number;
  execHeight: number;
  treeWidth: number;
  detailWidth: number;
  /** Inside the borders. */
  inner: Record<Pane, { width: number; height: number }>;
}

/** Header and key bar one line each; executions below tree and details. */
export function layout(columns: number, rows: number): Layout {
  const execHeight = rows >= 30 ? Math.floor((rows - 2) * 0.35) : 8;
  const topHeight = rows - 2 - execHeight;
  const treeWidth = Math.max(24, Math.min(40, Math.floor(columns * 0.36)));
  const detailWidth = columns - treeWidth;
  return {
    columns,
    rows,
    topHeight,
    execHeight,
    treeWidth,
    detailWidth,
    inner: {
      tree: { width: treeWidth - 2, height: topHeight - 2 },
      detail: { width: detailWidth - 2, height: topHeight - 2 },
      executions: { width: columns - 2, height: execHeight - 2 },
    },
  };
}

/** What the screen shows, derived from the data and the view state. */
export interface Derived {
  tree: TreeRow[];
  treeCursor: number;
  selected?: TreeRow;
  executions: Execution[];
  execCursor: number;
  detail: { title: string; lines: Line[] };
  detailMax: number;
  detailTop: number;
}

export function derive(
  state: DashboardState,
  view: ViewState,
  lay: Layout,
): Derived {
  const tree = treeRows(state, view.open, view.filters.tree);
  const found = tree.findIndex((r) => r.key === view.treeKey);
  const treeCursor = found === -1 ? 0 : found;
  const selected = tree[treeCursor];
  const executions = filterExecutions(
    state.executions,
    view.filters.executions,
  );
  const execFound = view.execId === null
    ? 0
    : executions.findIndex((e) => e.id === view.execId);
  const detail = view.opened
    ? { title: "Execution", lines: executionLines(view.opened) }
    : detailOf(state, selected?.node);
  const { width, height } = lay.inner.detail;
  const detailMax = maxScroll(detail.lines, width, height);
  return {
    tree,
    treeCursor,
    selected,
    executions,
    execCursor: execFound === -1 ? 0 : execFound,
    detail,
    detailMax,
    detailTop: clamp(view.scroll, detailMax),
  };
}

/**
 * The keys of one input event. Ink delivers characters typed in one burst
 * (a paste, tmux send-keys, a fast typist) as one string, tabs and enters
 * included: each character is made a key of its own.
 */
export function splitKeys(input: string, key: Key): [string, Key][] {
  const chars = [...input];
  if (chars.length <= 1) return [[input, key]];
  return chars.map((c) => {
    const control = c < " " || c === "\x7f";
    return [control ? "" : c, {
      ...key,
      tab: c === "\t",
      return: c === "\r" || c === "\n",
      backspace: c === "\x7f" || c === "\b",
      escape: c === "\x1b",
    }];
  });
}

/** What a key asks of the app, beyond changing the view. */
export type KeyEffect =
  | "quit"
  | "refresh"
  /** `x` on a delayed event: cancel it. */
  | { cancel: { tenant: string; item: DelayedEvent } }
  /** `R` on an execution: run it again with its input. */
  | { rerun: Execution }
  | undefined;

/**
 * Applies one key to `view` (in place): navigation, folding, opening,
 * filtering, switching panes. Returns what the app must do besides.
 */
export function handleKey(
  view: ViewState,
  d: Derived,
  lay: Layout,
  input: string,
  key: Key,
): KeyEffect {
  if (view.editing) {
    editFilter(view, d, lay, input, key);
    return undefined;
  }
  if (input === "q") return "quit";
  if (input === "r") return "refresh";
  if (key.tab) {
    const i = PANES.indexOf(view.focus) + (key.shift ? PANES.length - 1 : 1);
    view.focus = PANES[i % PANES.length];
    return;
  }
  if (input === "/") {
    view.editing = view.focus === "executions" ? "executions" : "tree";
    if (view.focus === "detail") view.focus = "tree";
    return;
  }
  if (key.escape) {
    const pane = view.focus === "executions" ? "executions" : "tree";
    if (view.focus === "detail") {
      view.focus = view.opened ? "executions" : "tree";
    } else if (view.filters[pane]) {
      view.filters[pane] = "";
    }
    return;
  }
  if (move(view, d, lay, input, key)) return;
  const row = d.selected;
  if (input === "x" && view.focus !== "executions" && !view.opened) {
    const node = row?.node;
    if (node?.kind === "delayed") {
      return { cancel: { tenant: node.tenant, item: node.item } };
    }
    return undefined;
  }
  if (input === "R") {
    // The execution shown, or the one under the cursor.
    const e = view.opened ??
      (view.focus === "executions" ? d.executions[d.execCursor] : undefined);
    return e ? { rerun: e } : undefined;
  }
  if (view.focus === "tree" && row) {
    if (key.rightArrow || input === "l") {
      if (row.expandable && !row.expanded) view.open.set(row.key, true);
      else if (row.expandable) selectTree(view, d, d.treeCursor + 1);
    } else if (key.leftArrow || input === "h") {
      if (row.expandable && row.expanded) view.open.set(row.key, false);
      else if (row.parent) {
        selectTree(view, d, d.tree.findIndex((r) => r.key === row.parent));
      }
    } else if (key.return) {
      if (row.expandable) view.open.set(row.key, !row.expanded);
      else view.focus = "detail";
    }
  } else if (view.focus === "executions" && key.return) {
    const e = d.executions[d.execCursor];
    if (e) {
      view.opened = e;
      view.execId = d.execCursor === 0 ? null : e.id;
      view.scroll = 0;
      view.focus = "detail";
    }
  }
  return undefined;
}

function editFilter(
  view: ViewState,
  d: Derived,
  lay: Layout,
  input: string,
  key: Key,
): void {
  const target = view.editing!;
  if (key.escape) {
    view.filters[target] = "";
    view.editing = undefined;
  } else if (key.return) {
    view.editing = undefined;
  } else if (key.backspace || key.delete) {
    view.filters[target] = [...view.filters[target]].slice(0, -1).join("");
  } else if (key.upArrow || key.downArrow || key.pageUp || key.pageDown) {
    move(view, d, lay, "", key);
  } else if (input && !key.ctrl && !key.meta && !key.tab) {
    // deno-lint-ignore no-control-regex
    view.filters[target] += input.replace(/[\x00-\x1f\x7f]/g, "");
    if (target === "executions") view.execId = null;
  }
}

/** Up, down, page up/down, home and end (and j/k) in the focused pane. */
function move(
  view: ViewState,
  d: Derived,
  lay: Layout,
  input: string,
  key: Key,
): boolean {
  const pane = view.focus;
  const page = lay.inner[pane].height;
  let delta: number;
  if (key.upArrow || input === "k") delta = -1;
  else if (key.downArrow || input === "j") delta = 1;
  else if (key.pageUp) delta = -page;
  else if (key.pageDown) delta = page;
  else if (key.home || input === "g") delta = -Infinity;
  else if (key.end || input === "G") delta = Infinity;
  else return false;
  const from = pane === "tree"
    ? d.treeCursor
    : pane === "executions"
    ? d.execCursor
    : d.detailTop;
  const to = Number.isFinite(delta) ? from + delta : delta < 0 ? 0 : 1e9;
  if (pane === "tree") selectTree(view, d, to);
  else if (pane === "executions") {
    const i = clamp(to, d.executions.length - 1);
    view.execId = i === 0 ? null : d.executions[i]?.id ?? null;
  } else {
    view.scroll = clamp(to, d.detailMax);
  }
  return true;
}

function selectTree(view: ViewState, d: Derived, index: number): void {
  const i = clamp(index, d.tree.length - 1);
  const row = d.tree[i];
  if (!row) return;
  view.treeKey = row.key;
  view.opened = null;
  view.scroll = 0;
}

function detailOf(
  state: DashboardState,
  node: TreeNode | undefined,
): { title: string; lines: Line[] } {
  switch (node?.kind) {
    case undefined:
      return { title: "Details", lines: [] };
    case "platform":
      return { title: "Platform", lines: platformLines(state) };
    case "tenant":
      return {
        title: `Tenant ${node.tenant.id}`,
        lines: tenantLines(node.tenant, state.executions),
      };
    case "group":
      return {
        title: `${node.tenant.id} ${node.group}`,
        lines: groupLines(node.tenant, node.group),
      };
    case "package": {
      const key = packageKey(node.tenant, node.pkg.id, node.pkg.version);
      const detail = state.details[key] as Loadable<PackageDetail> | undefined;
      return {
        title: `Package ${node.pkg.id}`,
        lines: packageLines(node.tenant, node.pkg, detail),
      };
    }
    case "file": {
      const content = state.details[fileKey(node.tenant, node.file)] as
        | Loadable<FileContent>
        | undefined;
      return {
        title: `File ${node.file.name}`,
        lines: fileLines(node.file, content),
      };
    }
    case "queue": {
      const data = state.tenants.find((t) => t.id === node.tenant);
      return {
        title: `Queue ${node.queue.id}`,
        lines: queueLines(
          node.tenant,
          node.queue,
          data?.limits?.[node.queue.id],
          data?.schedules?.filter((s) => s.queue === node.queue.id),
        ),
      };
    }
    case "delayed":
      return {
        title: `Delayed ${node.item.id}`,
        lines: delayedLines(node.tenant, node.queue, node.item),
      };
  }
}
