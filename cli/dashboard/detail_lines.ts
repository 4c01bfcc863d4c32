/**
 * What the detail pane shows for each kind of tree node and for an
 * execution, as styled lines (the pane wraps and scrolls them).
 */
import type {
  DelayedEvent,
  Execution,
  FileInfo,
  Meta,
  PackageDetail,
  PackageSummary,
  QueueInfo,
  QueueLimits,
  Schedule,
} from "../api_types.ts";
import { limitLines } from "../commands/queues_limits.ts";
import { scheduleLines } from "../commands/schedules.ts";
import { formatAge, formatDateTime, formatDuration } from "../output.ts";
import type {
  DashboardState,
  FileContent,
  Loadable,
  TenantData,
} from "./dashboard_model.ts";
import { highlightJson, highlightYaml } from "./highlight.ts";
import {
  type Color,
  fit,
  formatBytes,
  type Line,
  plain,
  seg,
  type Segment,
  statusColor,
} from "./styled_text.ts";
import { type GroupName, groupSize } from "./tree_rows.ts";

const KEY_WIDTH = 11;

function field(key: string, ...value: (Segment | string)[]): Line {
  return [
    { text: fit(key, KEY_WIDTH), dim: true, hang: true },
    ...value.map((v) => typeof v === "string" ? seg(v) : v),
  ];
}

function title(text: string, note = ""): Line {
  const line = [seg(text, undefined, { bold: true })];
  if (note) line.push(seg(`  ${note}`, undefined, { dim: true }));
  return line;
}

function loading<T>(
  loadable: Loadable<T> | undefined,
  what: string,
): Line[] | undefined {
  if (!loadable || loadable.state === "loading") {
    return [[seg(`Loading ${what}…`, undefined, { dim: true })]];
  }
  if (loadable.state === "error") {
    return [[seg(`Could not load ${what}: ${loadable.message}`, "red")]];
  }
  return undefined;
}

/** The platform: health, version, components, sandbox and limits. */
export function platformLines(state: DashboardState): Line[] {
  const lines: Line[] = [title("Platform", state.url)];
  if (state.healthError) {
    lines.push(field("status", seg("● unreachable", "red")));
    lines.push(field("error", seg(state.healthError, "red")));
  } else if (state.health) {
    const status = String(state.health.status);
    lines.push(field("status", seg(`● ${status}`, healthColor(status))));
    for (const [name, value] of Object.entries(state.health.checks ?? {})) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      lines.push(field(`  ${name}`, seg(text, healthColor(text))));
    }
  } else {
    lines.push(field("status", seg("checking…", undefined, { dim: true })));
  }
  const meta = state.meta;
  if (meta) {
    lines.push(field("name", `${meta.name} ${meta.version}`));
    const components = Array.isArray(meta.components) ? meta.components : [];
    lines.push(field("components", components.map(String).join(", ")));
    for (const [key, value] of Object.entries(meta)) {
      if (SHOWN_META.includes(key)) continue;
      lines.push(metaField(key, value, meta));
    }
  }
  if (state.principal) lines.push(field("signed in", state.principal));
  const live = state.tenants.filter((t) => t.live).length;
  const streamed = state.tenants.filter((t) => t.streamed).length;
  lines.push(
    field(
      "tenants",
      `${state.tenants.length}`,
      seg(`  ${live} of ${streamed} streams live`, undefined, { dim: true }),
    ),
  );
  return lines;
}

/** A tenant: what it holds and how its executions went. */
export function tenantLines(
  tenant: TenantData,
  executions: Execution[],
): Line[] {
  const lines: Line[] = [
    title(
      `Tenant ${tenant.id}`,
      !tenant.streamed ? "not streamed" : tenant.live ? "live" : "connecting…",
    ),
  ];
  if (tenant.error) lines.push(field("error", seg(tenant.error, "red")));
  const files = tenant.files ?? [];
  const modules = files.filter((f) => f.kind === "wasm").length;
  lines.push(field("packages", String(groupSize(tenant, "packages"))));
  lines.push(
    field(
      "files",
      `${files.length} (${modules} modules, ${files.length - modules} schemas)`,
    ),
  );
  const queues = tenant.queues ?? [];
  const sum = (k: keyof QueueInfo) =>
    queues.reduce((n, q) => n + Number(q[k] ?? 0), 0);
  lines.push(
    field(
      "queues",
      `${queues.length}: ${sum("depth")} waiting, ${
        sum("inFlight")
      } in flight, `,
      deadSeg(sum("dead")),
    ),
  );
  const mine = executions.filter((e) => e.tenant === tenant.id);
  const count = (s: string) => mine.filter((e) => e.status === s).length;
  lines.push(
    field(
      "executions",
      seg(`${count("ok")} ok`, "green"),
      ", ",
      seg(`${count("error")} error`, "yellow"),
      ", ",
      seg(`${count("failed")} failed`, "red"),
      seg(` (last ${mine.length})`, undefined, { dim: true }),
    ),
  );
  return lines;
}

/** A group: a table of its packages, files or queues. */
export function groupLines(tenant: TenantData, group: GroupName): Line[] {
  const lines: Line[] = [title(`${tenant.id} ${group}`)];
  const failed = tenant.failed?.[group];
  if (failed) {
    // Not "none": they could not be loaded (the other groups still show).
    return [...lines, field("error", seg(failed, "red"))];
  }
  if (group === "packages") {
    const pkgs = tenant.packages ?? [];
    lines.push(header(fit("id", 16), fit("version", 8), "deployed"));
    for (const p of pkgs) {
      lines.push(
        plain(
          `${fit(p.id, 16)}${fit(`v${p.version}`, 8)}${
            formatDateTime(p.deployedAt)
          }`,
        ),
      );
    }
    if (pkgs.length === 0) lines.push(none("No packages deployed"));
  } else if (group === "files") {
    const files = tenant.files ?? [];
    lines.push(header(fit("name", 24), fit("kind", 8), "size"));
    for (const f of files) {
      lines.push(
        plain(`${fit(f.name, 24)}${fit(f.kind, 8)}${formatBytes(f.size)}`),
      );
    }
    if (files.length === 0) lines.push(none("No files uploaded"));
  } else {
    const queues = tenant.queues ?? [];
    lines.push(queueHeader());
    for (const q of queues) lines.push(queueRow(q));
    if (queues.length === 0) lines.push(none("No queues"));
  }
  return lines;
}

/** The queue table's columns: name, depth, in flight, delayed, dead, done. */
export function queueHeader(): Line {
  return header(
    fit("queue", 14),
    "  depth",
    " flight",
    "  delay",
    "   dead",
    "   done",
  );
}

export function queueRow(q: QueueInfo): Line {
  const n = (v: number) => String(v).padStart(7);
  return [
    seg(fit(q.id, 14)),
    seg(n(q.depth), q.depth > 0 ? "cyan" : undefined),
    seg(n(q.inFlight), q.inFlight > 0 ? "cyan" : undefined),
    seg(n(q.delayed), q.delayed > 0 ? "yellow" : undefined),
    seg(n(q.dead), q.dead > 0 ? "red" : undefined),
    seg(n(q.processed)),
  ];
}

/** A package: who deployed which version, and its YAML. */
export function packageLines(
  tenant: string,
  pkg: PackageSummary,
  detail: Loadable<PackageDetail> | undefined,
): Line[] {
  const lines: Line[] = [
    title(`Package ${pkg.id}`, pkg.name ?? ""),
    field("version", `v${pkg.version}`),
    field("deployed", formatDateTime(pkg.deployedAt), ...by(pkg)),
    field("tenant", tenant),
    [],
  ];
  const wait = loading(detail, "the package");
  if (wait) return [...lines, ...wait];
  if (detail?.state !== "ok") return lines;
  return [...lines, ...highlightYaml(detail.value.source ?? "")];
}

function by(pkg: PackageSummary): string[] {
  const who = (pkg as { deployedBy?: string }).deployedBy;
  return who ? [` by ${who}`] : [];
}

/** A file: size and hash; a schema's content, a module's imports and exports. */
export function fileLines(
  file: FileInfo,
  content: Loadable<FileContent> | undefined,
): Line[] {
  const lines: Line[] = [
    title(
      file.name,
      file.kind === "wasm" ? "WebAssembly module" : "JSON Schema",
    ),
    field("size", `${file.size} bytes (${formatBytes(file.size)})`),
    field("sha-256", file.sha256),
    field("uploaded", formatDateTime(file.uploadedAt)),
  ];
  const wait = loading(content, "the file");
  if (wait) return [...lines, [], ...wait];
  if (content?.state !== "ok") return lines;
  const value = content.value;
  if (value.kind === "schema") {
    lines.push([]);
    lines.push(
      ...(value.json
        ? highlightJson(value.text)
        : value.text.split("\n").map(plain)),
    );
  } else if (value.kind === "wasm") {
    const s = value.summary;
    lines.push(
      field(
        "checked",
        s.sha256 === file.sha256
          ? seg("the bytes match the sha-256", "green")
          : seg(`the bytes hash to ${s.sha256}`, "red"),
      ),
    );
    lines.push([], title(`imports (${s.imports.length})`));
    for (const i of s.imports) {
      lines.push([
        seg(`  ${i.module}.`, undefined, { dim: true }),
        seg(i.name, "cyan"),
        seg(`  ${i.kind}`, undefined, { dim: true }),
      ]);
    }
    lines.push([], title(`exports (${s.exports.length})`));
    for (const e of s.exports) {
      lines.push([
        seg(`  ${e.name}`, "green"),
        seg(`  ${e.kind}`, undefined, { dim: true }),
      ]);
    }
  }
  return lines;
}

/** A queue: its counters, explained, its events' flow limits and schedules. */
export function queueLines(
  tenant: string,
  q: QueueInfo,
  limits?: QueueLimits,
  schedules?: Schedule[],
): Line[] {
  return [
    title(`Queue ${q.id}`, `tenant ${tenant}, live`),
    field(
      "depth",
      seg(String(q.depth), q.depth > 0 ? "cyan" : undefined),
      dim("  waiting, delayed included"),
    ),
    field(
      "in flight",
      seg(String(q.inFlight), q.inFlight > 0 ? "cyan" : undefined),
      dim("  running now"),
    ),
    field(
      "delayed",
      seg(String(q.delayed), q.delayed > 0 ? "yellow" : undefined),
      dim("  waiting for a retry"),
    ),
    field(
      "dead",
      seg(String(q.dead), q.dead > 0 ? "red" : undefined),
      dim("  failed more often than retries allow"),
    ),
    field("processed", String(q.processed)),
    field(
      "oldest",
      formatAge(q.oldestAgeMs),
      dim("  age of the oldest waiting item"),
    ),
    [],
    q.dead > 0
      ? [dim("Replay: "), seg(`jobico queues replay ${tenant} ${q.id}`, "cyan")]
      : [],
    ...(limits
      ? [
        [],
        title("Limits", "slots in use now, every process"),
        ...limitLines(limits).map((l): Line => [seg(l)]),
      ]
      : []),
    ...(schedules?.length
      ? [
        [],
        title("Schedules", "next tick, last sent"),
        ...scheduleLines({ schedules }).map((l): Line => [seg(l)]),
      ]
      : []),
  ];
}

/** One execution: outcome, result, error and logs. */
export function executionLines(e: Execution): Line[] {
  const lines: Line[] = [
    title(`Execution ${e.id}`),
    field(
      "status",
      seg(e.status, statusColor(e.status), { bold: true }),
      `  code ${e.code ?? "-"}`,
    ),
    field("tenant", e.tenant),
    field("package", e.package),
    field("event", e.event),
    field("queue", e.queue),
    field("attempt", String(e.attempt)),
    field(
      "started",
      `${formatDateTime(e.startedAt)}, took ${formatDuration(e.durationMs)}`,
    ),
    field("event id", e.eventId),
    ...(e.rerunOf ? [field("re-run of", e.rerunOf)] : []),
  ];
  if (e.error) lines.push([], title("error"), [seg(e.error, "red")]);
  if (e.result !== null && e.result !== undefined) {
    lines.push([], title("result"));
    const text = typeof e.result === "string"
      ? e.result
      : JSON.stringify(e.result);
    try {
      lines.push(...highlightJson(JSON.stringify(JSON.parse(text), null, 2)));
    } catch {
      lines.push(...text.split("\n").map(plain));
    }
  }
  if (e.input !== undefined) {
    lines.push([], title("input"), [dim("R re-runs it with this input")]);
    lines.push(...highlightJson(JSON.stringify(e.input, null, 2)));
  }
  if (e.logs?.length) {
    lines.push([], title(`logs (${e.logs.length})`));
    for (const log of e.logs) {
      const color: Color | undefined =
        ["error", "fatal", "panic"].includes(log.level)
          ? "red"
          : log.level === "warn"
          ? "yellow"
          : undefined;
      // A message of several lines: each a row, under the first.
      const tag = `[${log.level}] `;
      const [first, ...more] = log.message.replace(/\r?\n$/, "").split(
        /\r?\n/,
      );
      lines.push([seg(tag, color, { dim: !color }), seg(first)]);
      for (const line of more) {
        lines.push([seg(" ".repeat(tag.length)), seg(line)]);
      }
    }
  }
  return lines;
}

/** A delayed event: what it is, when it runs, and how to cancel it. */
export function delayedLines(
  tenant: string,
  queue: string,
  item: DelayedEvent,
): Line[] {
  return [
    title(`Delayed event ${item.id}`, `tenant ${tenant}`),
    field("event", item.event),
    field("queue", queue),
    field("runs", formatDateTime(item.runAt), dim(`  ${item.runAt}`)),
    [],
    [dim("x cancels it: it will not run")],
  ];
}

function header(...cells: string[]): Line {
  return [seg(cells.join(""), undefined, { bold: true })];
}

function none(text: string): Line {
  return [seg(text, undefined, { dim: true })];
}

function dim(text: string): Segment {
  return seg(text, undefined, { dim: true });
}

function deadSeg(n: number): Segment {
  return seg(`${n} dead`, n > 0 ? "red" : undefined);
}

function healthColor(status: string): Color {
  return status === "ok" ? "green" : "red";
}

/** Fields of /meta shown above the others, or with another. */
const SHOWN_META = [
  "name",
  "version",
  "components",
  "definitionsSeen",
  "definitionsLatest",
];

/** A field of /meta, in words where it is a known one. */
function metaField(
  key: string,
  value: unknown,
  meta: Meta,
): Line {
  const v = (value ?? {}) as Record<string, unknown>;
  if (key === "definitionsGeneration") {
    // The changes of packages this process has applied, of those announced.
    const { definitionsSeen: seen, definitionsLatest: latest } = meta;
    return field(
      "packages",
      typeof seen === "number" && typeof latest === "number"
        ? `loaded ${seen} of ${latest} changes (generation ${value})`
        : `generation ${value}`,
    );
  }
  if (key === "sandbox" && typeof v.workers === "number") {
    return field("sandbox", `${v.workers} workers, ${v.busy ?? 0} busy`);
  }
  if (key === "limits" && typeof v === "object") {
    const parts = Object.entries(v).map(([k, x]) =>
      k === "timeoutMs"
        ? `timeout ${formatDuration(Number(x))}`
        : k === "memoryMb"
        ? `memory ${x} MiB`
        : `${k} ${typeof x === "object" ? JSON.stringify(x) : x}`
    );
    return field("limits", parts.join(", "));
  }
  return field(key, compact(value));
}

function compact(value: unknown): string {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).map(([k, v]) =>
      `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`
    ).join(", ");
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}
