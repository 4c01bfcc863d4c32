/**
 * How the CLI words retention, quotas and usage (`jobico status`,
 * `jobico tenant show|set`).
 */
import type {
  Quotas,
  RetentionPolicy,
  RetentionStatus,
  SweepReport,
  TenantInfo,
} from "../api_types.ts";
import { UsageError } from "../cli_error.ts";
import { formatAge } from "../output.ts";

const n = (v: number) => v.toLocaleString("en-US");

/** `532 B`, `12.5 KiB`, `3.2 MiB`, `1.0 GiB`. */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** `executions: 7 days, at most 100,000; versions: 10 per package, and those queued events use`. */
export function formatRetention(r: RetentionPolicy): string {
  const age = r.days > 0
    ? `${n(r.days)} ${r.days === 1 ? "day" : "days"}`
    : "any age";
  const count = r.executions > 0 ? `at most ${n(r.executions)}` : "no limit";
  return `executions: ${age}, ${count}; versions: ${n(r.versions)} ` +
    "per package, and those queued events use";
}

/** `1,000 files and 1.0 GiB`, and `, 10 executions at once` when limited. */
export function formatQuotas(q: Quotas): string {
  return `${n(q.files)} files and ${formatSize(q.bytes)}${
    q.maxConcurrency > 0 ? `, ${n(q.maxConcurrency)} executions at once` : ""
  }`;
}

/** `3 of 1,000`, with the share when it is notable. */
export function formatUse(
  used: number,
  limit: number,
  format: (v: number) => string = n,
): string {
  const share = limit > 0 ? Math.floor((used / limit) * 100) : 100;
  return `${format(used)} of ${format(limit)}` +
    (share >= 80 ? ` (${share}%)` : "");
}

/** One sweep: what it removed, when and where. */
export function formatSweep(r: SweepReport, now = Date.now()): string {
  return `${formatAge(now - Date.parse(r.at))} ago by ${r.holder}: ` +
    `${n(r.executions)} executions, ${n(r.versions)} versions, ` +
    `${n(r.blobs)} blobs removed` +
    (r.pinned > 0 ? `, ${n(r.pinned)} versions kept for queued events` : "") +
    (r.complete ? "" : " (more to do)");
}

/** The fields of the platform's defaults and its sweeper. */
export function retentionFields(s: RetentionStatus): [string, string][] {
  const fields: [string, string][] = [
    ["retention", formatRetention(s.retention)],
    ["quotas", `${formatQuotas(s.quotas)} per tenant`],
  ];
  const { sweeper } = s;
  const where = [
    sweeper.intervalMs !== null
      ? `runs here every ${formatAge(sweeper.intervalMs)}`
      : "does not run here",
    sweeper.holder ? `lease held by ${sweeper.holder}` : "",
  ].filter(Boolean).join("; ");
  fields.push(["sweeper", where]);
  if (sweeper.last) fields.push(["last sweep", formatSweep(sweeper.last)]);
  return fields;
}

/** The fields of one tenant's policy and usage. */
export function tenantStorageFields(t: TenantInfo): [string, string][] {
  const fields: [string, string][] = [];
  if (t.retention) fields.push(["retention", formatRetention(t.retention)]);
  if (t.quotas) fields.push(["quotas", formatQuotas(t.quotas)]);
  if (t.usage && t.quotas) {
    fields.push(["files", formatUse(t.usage.files, t.quotas.files)]);
    fields.push([
      "bytes",
      formatUse(t.usage.bytes, t.quotas.bytes, formatSize),
    ]);
  }
  if (t.usage) {
    fields.push(["versions", n(t.usage.versions)]);
    fields.push(["executions", n(t.usage.executions)]);
  }
  const own = [
    ...Object.entries(t.settings?.retention ?? {}).map(([k, v]) =>
      `retention.${k}=${v}`
    ),
    ...Object.entries(t.settings?.quotas ?? {}).map(([k, v]) =>
      `quotas.${k}=${v}`
    ),
  ];
  fields.push(["own settings", own.length ? own.join(", ") : "none"]);
  return fields;
}

/** A row of the tenants' usage table. */
export function tenantUsageRow(t: TenantInfo): string[] {
  const u = t.usage;
  const q = t.quotas;
  return [
    t.id,
    u && q ? formatUse(u.files, q.files) : "-",
    u && q ? formatUse(u.bytes, q.bytes, formatSize) : "-",
    u ? n(u.versions) : "-",
    u ? n(u.executions) : "-",
    t.retention
      ? `${t.retention.days}d/${
        n(t.retention.executions)
      }/${t.retention.versions}v`
      : "-",
  ];
}

export const TENANT_USAGE_HEADER = [
  "TENANT",
  "FILES",
  "BYTES",
  "VERSIONS",
  "EXECUTIONS",
  "RETENTION",
];

/**
 * A setting's value from a flag: a whole number, `default` (null: the
 * platform's), and for sizes a unit (`100MiB`, `2GiB`).
 */
export function parseSettingValue(
  flag: string,
  text: string,
  size = false,
): number | null {
  if (text === "default") return null;
  const m = /^(\d+)\s*(B|KiB|MiB|GiB|TiB)?$/i.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  if (m && (size || !unit)) {
    const mult = {
      b: 1,
      kib: 1024,
      mib: 1024 ** 2,
      gib: 1024 ** 3,
      tib: 1024 ** 4,
    }[unit ?? "b"]!;
    const v = Number(m[1]) * mult;
    if (Number.isSafeInteger(v)) return v;
  }
  throw new UsageError(
    `Invalid ${flag} "${text}": use a whole number${
      size ? " of bytes (or with KiB, MiB, GiB, TiB)" : ""
    }, or default`,
    { hint: 'Run "jobico tenant set --help"' },
  );
}
