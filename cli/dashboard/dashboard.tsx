import { Box, Text, useApp, useInput, useWindowSize } from "ink";
import { useEffect, useReducer, useRef, useSyncExternalStore } from "react";
import type { DashboardModel } from "./dashboard_model.ts";
import {
  derive,
  handleKey,
  initialView,
  layout,
  splitKeys,
} from "./dashboard_view.ts";
import { DetailPane } from "./detail_pane.tsx";
import { ExecutionsPane } from "./executions_pane.tsx";
import { HeaderBar } from "./header_bar.tsx";
import { KeyBar } from "./key_bar.tsx";
import { Panel } from "./panel.tsx";
import { ThemeContext } from "./theme.ts";
import { TreePane } from "./tree_pane.tsx";

/** Props of {@linkcode Dashboard}. */
export interface DashboardProps {
  model: DashboardModel;
  /** The screen size; the terminal's by default (tests set 80x24). */
  size?: { columns: number; rows: number };
  /** Colours (off for NO_COLOR). Default true. */
  colors?: boolean;
  /** Called when the user quits, before the app exits. */
  onQuit?: () => void;
}

/** Smallest usable screen. */
export const MIN_COLUMNS = 60;
export const MIN_ROWS = 16;

/**
 * The terminal dashboard: the tree (platform, tenants, packages, files,
 * queues) beside the selected node's details, the live executions below,
 * the platform's health on top and the keys at the bottom.
 */
export function Dashboard(
  { model, size, colors = true, onQuit }: DashboardProps,
) {
  const state = useSyncExternalStore(model.subscribe, model.snapshot);
  const windowSize = useWindowSize();
  const lay = layout(
    size?.columns ?? windowSize.columns ?? 80,
    size?.rows ?? windowSize.rows ?? 24,
  );
  const { exit } = useApp();
  const view = useRef(initialView()).current;
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const d = derive(state, view, lay);

  useInput((input, key) => {
    for (const [one, k] of splitKeys(input, key)) {
      // Derived afresh: each key sees what the previous one did.
      const d = derive(model.snapshot(), view, lay);
      const effect = handleKey(view, d, lay, one, k);
      if (effect === "quit") {
        onQuit?.();
        exit();
        return;
      }
      if (effect === "refresh") model.refresh();
      else if (typeof effect === "object" && "cancel" in effect) {
        model.cancel(effect.cancel.tenant, effect.cancel.item);
      } else if (typeof effect === "object" && "rerun" in effect) {
        model.rerun(effect.rerun);
      }
    }
    rerender();
  });

  // Load what the selected node shows, once the cursor rests on it.
  const node = d.selected?.node;
  const loadKey = node?.kind === "package"
    ? `${node.tenant}/${node.pkg.id}@${node.pkg.version}`
    : node?.kind === "file"
    ? `${node.tenant}/${node.file.name}@${node.file.sha256}`
    : "";
  useEffect(() => {
    if (!loadKey || !node) return;
    const timer = setTimeout(() => {
      if (node.kind === "package") {
        model.loadPackage(node.tenant, node.pkg.id, node.pkg.version);
      } else if (node.kind === "file") {
        model.loadFile(node.tenant, node.file);
      }
    }, 80);
    return () => clearTimeout(timer);
  }, [loadKey]);

  const { columns, rows, inner } = lay;
  if (columns < MIN_COLUMNS || rows < MIN_ROWS) {
    return (
      <Text>
        Make the terminal at least {MIN_COLUMNS}x{MIN_ROWS} (it is{" "}
        {columns}x{rows}); q quits
      </Text>
    );
  }
  const live = state.tenants.filter((t) => t.live).length;
  const streamed = state.tenants.filter((t) => t.streamed).length;
  const execNote = [
    view.filters.executions ? `/${view.filters.executions}` : "",
    streamed === 0
      ? ""
      : live === streamed
      ? "live"
      : `${live}/${streamed} live`,
    `${d.executions.length}`,
  ].filter(Boolean).join(" · ");
  const total = d.detailMax + inner.detail.height;
  const detailNote = d.detailMax > 0
    ? `${d.detailTop + 1}-${d.detailTop + inner.detail.height}/${total}`
    : "";
  const focusFilter = view.focus === "executions" ? "executions" : "tree";
  return (
    <ThemeContext.Provider value={{ colors }}>
      <Box flexDirection="column" width={columns} height={rows}>
        <HeaderBar state={state} width={columns} />
        <Box flexDirection="row" height={lay.topHeight}>
          <Panel
            title="Tree"
            note={view.filters.tree ? `/${view.filters.tree}` : ""}
            width={lay.treeWidth}
            height={lay.topHeight}
            focused={view.focus === "tree"}
          >
            <TreePane
              state={state}
              rows={d.tree}
              cursor={d.treeCursor}
              focused={view.focus === "tree"}
              {...inner.tree}
            />
          </Panel>
          <Panel
            title={d.detail.title}
            note={detailNote}
            width={lay.detailWidth}
            height={lay.topHeight}
            focused={view.focus === "detail"}
          >
            <DetailPane
              lines={d.detail.lines}
              scroll={d.detailTop}
              {...inner.detail}
            />
          </Panel>
        </Box>
        <Panel
          title="Executions"
          note={execNote}
          width={columns}
          height={lay.execHeight}
          focused={view.focus === "executions"}
        >
          <ExecutionsPane
            executions={d.executions}
            cursor={d.execCursor}
            focused={view.focus === "executions"}
            empty={emptyText(
              state.loading,
              state.tenants[0]?.id,
              view.filters.executions,
            )}
            {...inner.executions}
          />
        </Panel>
        <KeyBar
          width={columns}
          editing={view.editing}
          filter={view.filters[view.editing ?? focusFilter]}
          message={state.error}
          notice={state.notice}
          extra={[
            ...(d.selected?.node.kind === "delayed" &&
                view.focus !== "executions"
              ? [["x", "cancel"] as [string, string]]
              : []),
            ...(view.opened || view.focus === "executions"
              ? [["R", "re-run"] as [string, string]]
              : []),
          ]}
        />
      </Box>
    </ThemeContext.Provider>
  );
}

function emptyText(
  loading: boolean,
  tenant: string | undefined,
  filter: string,
): string {
  if (filter) return `No execution matches "${filter}" (esc clears)`;
  if (loading) return "Connecting…";
  return `Waiting for executions. Send an event: jobico send ${
    tenant ?? "<tenant>"
  } <event> '{...}'`;
}
