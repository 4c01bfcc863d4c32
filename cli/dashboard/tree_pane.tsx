import { useRef } from "react";
import type { DashboardState } from "./dashboard_model.ts";
import { keepInView } from "./scroll.ts";
import { StyledLines } from "./styled_lines.tsx";
import { type Color, fit, formatBytes, type Line, seg } from "./styled_text.ts";
import { groupSize, type TreeRow } from "./tree_rows.ts";

/** Props of {@linkcode TreePane}. */
export interface TreePaneProps {
  state: DashboardState;
  rows: TreeRow[];
  cursor: number;
  focused: boolean;
  /** Inside the border. */
  width: number;
  height: number;
}

/** The tree: platform, tenants, their packages, files and queues. */
export function TreePane(
  { state, rows, cursor, focused, width, height }: TreePaneProps,
) {
  const top = useRef(0);
  top.current = keepInView(top.current, cursor, height, rows.length);
  const visible = rows.slice(top.current, top.current + height);
  const lines = visible.map((row) => rowLine(state, row, width));
  if (rows.length === 0) {
    lines.push([
      seg(state.loading ? "Loading…" : "Nothing matches", undefined, {
        dim: true,
      }),
    ]);
  }
  return (
    <StyledLines
      lines={lines}
      width={width}
      height={height}
      highlight={focused ? cursor - top.current : undefined}
    />
  );
}

function rowLine(state: DashboardState, row: TreeRow, width: number): Line {
  const marker = row.expandable ? (row.expanded ? "▾ " : "▸ ") : "  ";
  const [hint, hintColor] = hintOf(state, row);
  const indent = "  ".repeat(row.depth);
  const room = Math.max(1, width - indent.length - 2 - hint.length - 1);
  const bold = row.depth === 0;
  return [
    seg(indent + marker, "gray"),
    seg(fit(row.label, room), undefined, { bold }),
    seg(" "),
    seg(hint, hintColor, { dim: !hintColor }),
  ];
}

function hintOf(
  state: DashboardState,
  row: TreeRow,
): [string, Color | undefined] {
  const node = row.node;
  switch (node.kind) {
    case "platform": {
      if (state.healthError) return ["● down", "red"];
      const status = String(state.health?.status ?? "…");
      return [`● ${status}`, status === "ok" ? "green" : "red"];
    }
    case "tenant":
      if (node.tenant.error) return ["!", "red"];
      if (!node.tenant.streamed) return ["", undefined];
      return node.tenant.live ? ["●", "green"] : ["○", "gray"];
    case "group":
      if (node.tenant.failed?.[node.group]) return ["!", "red"];
      return [String(groupSize(node.tenant, node.group)), undefined];
    case "package":
      return [`v${node.pkg.version}`, undefined];
    case "file":
      return [formatBytes(node.file.size), undefined];
    case "queue": {
      const q = node.queue;
      if (q.dead > 0) return [`${q.depth} ✗${q.dead}`, "red"];
      return [
        String(q.depth),
        q.depth > 0 || q.inFlight > 0 ? "cyan" : undefined,
      ];
    }
    case "delayed":
      return [relativeTime(node.item.runAt), "yellow"];
  }
}

/** "in 5m", "in 2h", "due": when a delayed event runs, from now. */
function relativeTime(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (!(ms > 0)) return "due";
  if (ms < 60_000) return `in ${Math.ceil(ms / 1000)}s`;
  if (ms < 3_600_000) return `in ${Math.round(ms / 60_000)}m`;
  if (ms < 86_400_000) return `in ${Math.round(ms / 3_600_000)}h`;
  return `in ${Math.round(ms / 86_400_000)}d`;
}
