/**
 * The tree of the dashboard, flattened into the rows on screen: the
 * platform, then each tenant with its packages, files and queues. Which
 * nodes are open and what the filter keeps decide which rows there are.
 */
import type {
  DelayedEvent,
  FileInfo,
  PackageSummary,
  QueueInfo,
} from "../api_types.ts";
import type { DashboardState, TenantData } from "./dashboard_model.ts";

/** The three groups under a tenant. */
export type GroupName = "packages" | "files" | "queues";

export const GROUPS: GroupName[] = ["packages", "files", "queues"];

/** What a row stands for. */
export type TreeNode =
  | { kind: "platform" }
  | { kind: "tenant"; tenant: TenantData }
  | { kind: "group"; tenant: TenantData; group: GroupName }
  | { kind: "package"; tenant: string; pkg: PackageSummary }
  | { kind: "file"; tenant: string; file: FileInfo }
  | { kind: "queue"; tenant: string; queue: QueueInfo }
  | { kind: "delayed"; tenant: string; queue: string; item: DelayedEvent };

/** One row of the tree. */
export interface TreeRow {
  /** Stable across refreshes: `t/demo`, `t/demo/files`, `t/demo/files/a.wasm`. */
  key: string;
  /** The key of the parent row; none for top rows. */
  parent?: string;
  depth: number;
  label: string;
  node: TreeNode;
  /** Whether the row has children (open or not). */
  expandable: boolean;
  expanded: boolean;
}

/**
 * Whether a node is open: the explicit choice when there is one, otherwise
 * groups are open, and tenants are open when there are at most three.
 */
export type OpenState = ReadonlyMap<string, boolean>;

/**
 * The visible rows. With a filter (case-insensitive, on names), only nodes
 * that match or have a matching descendant are kept, and all are open.
 */
export function treeRows(
  state: Pick<DashboardState, "tenants">,
  open: OpenState,
  filter = "",
): TreeRow[] {
  const needle = filter.trim().toLowerCase();
  const matches = (...names: (string | undefined)[]) =>
    !needle || names.some((n) => n?.toLowerCase().includes(needle));
  const isOpen = (key: string, fallback: boolean) =>
    needle ? true : open.get(key) ?? fallback;
  const rows: TreeRow[] = [];
  if (matches("platform", "health")) {
    rows.push({
      key: "platform",
      depth: 0,
      label: "platform",
      node: { kind: "platform" },
      expandable: false,
      expanded: false,
    });
  }
  const tenantsOpen = state.tenants.length <= 3;
  for (const tenant of state.tenants) {
    const tKey = `t/${tenant.id}`;
    const children = GROUPS.map((group) => ({
      group,
      leaves: leavesOf(tenant, group).filter((l) => matches(...l.names)),
    }));
    const anyChild = children.some((c) => c.leaves.length > 0);
    if (!matches(tenant.id) && !anyChild) continue;
    const tOpen = isOpen(tKey, tenantsOpen);
    rows.push({
      key: tKey,
      depth: 0,
      label: tenant.id,
      node: { kind: "tenant", tenant },
      expandable: true,
      expanded: tOpen,
    });
    if (!tOpen) continue;
    for (const { group, leaves } of children) {
      if (needle && leaves.length === 0) continue;
      const gKey = `${tKey}/${group}`;
      const gOpen = isOpen(gKey, true);
      rows.push({
        key: gKey,
        parent: tKey,
        depth: 1,
        label: group,
        node: { kind: "group", tenant, group },
        expandable: true,
        expanded: gOpen,
      });
      if (!gOpen) continue;
      for (const leaf of leaves) {
        const lKey = `${gKey}/${leaf.id}`;
        // A queue's delayed events, which can be cancelled, under it.
        const delayed = leaf.node.kind === "queue"
          ? tenant.delayed?.[leaf.id] ?? []
          : [];
        const lOpen = delayed.length > 0 && isOpen(lKey, false);
        rows.push({
          key: lKey,
          parent: gKey,
          depth: 2,
          label: leaf.id,
          node: leaf.node,
          expandable: delayed.length > 0,
          expanded: lOpen,
        });
        if (!lOpen) continue;
        for (const item of delayed) {
          rows.push({
            key: `${lKey}/${item.id}`,
            parent: lKey,
            depth: 3,
            label: `${item.event} ${item.id}`,
            node: { kind: "delayed", tenant: tenant.id, queue: leaf.id, item },
            expandable: false,
            expanded: false,
          });
        }
      }
    }
  }
  return rows;
}

interface Leaf {
  id: string;
  names: (string | undefined)[];
  node: TreeNode;
}

function leavesOf(tenant: TenantData, group: GroupName): Leaf[] {
  const t = tenant.id;
  switch (group) {
    case "packages":
      return (tenant.packages ?? []).map((pkg) => ({
        id: pkg.id,
        names: [pkg.id, pkg.name],
        node: { kind: "package", tenant: t, pkg },
      }));
    case "files":
      return (tenant.files ?? []).map((file) => ({
        id: file.name,
        names: [file.name],
        node: { kind: "file", tenant: t, file },
      }));
    case "queues":
      return (tenant.queues ?? []).map((queue) => ({
        id: queue.id,
        names: [queue.id],
        node: { kind: "queue", tenant: t, queue },
      }));
  }
}

/** How many children a group has (shown beside its name). */
export function groupSize(tenant: TenantData, group: GroupName): number {
  return leavesOf(tenant, group).length;
}
