/**
 * A deploy's checks, before anything is stored: size, parse, the caller's
 * access to the tenant the package names, references to the tenant's
 * files, and the content hash of each file the package uses.
 */
import type { PendingFile } from "../../api/mod.ts";
import { UnresolvedError, ValidationError } from "@jobico/goico";
import type { FileRepo } from "../repo/file_repo.ts";
import type { JobPackage, PackageIssue } from "../model/job_package.ts";
import { parsePackage, type SchedulePosition } from "../model/parse_package.ts";
import type { Limits } from "../model/runtime_limits.ts";

/** A file a dry run treats as uploaded. */
export type { PendingFile };

export interface ValidateSourceOptions {
  maxSourceBytes: number;
  maxLimits?: Limits;
  /** The shortest time between two ticks of a schedule, in ms. */
  minScheduleIntervalMs?: number;
  /** Called with the package's tenant before any file is looked up. */
  authorize?: (tenant: string) => void;
  /** Files resolved as if uploaded, over the tenant's own. */
  pending?: PendingFile[];
}

/** The package and the pinned sha-256 of each file it uses, or every issue. */
export async function validateSource(
  source: string,
  repo: FileRepo,
  options: ValidateSourceOptions,
): Promise<{
  pkg: JobPackage;
  pinned: Record<string, string>;
  /**
   * The pinned files whose content the tenant has uploaded: only these may
   * be read to judge the package. A dry run's pending file may name any
   * sha-256, another tenant's content too; it is assumed, not read.
   */
  judged: Record<string, string>;
  schedules: SchedulePosition[];
}> {
  const max = options.maxSourceBytes;
  if (new TextEncoder().encode(source).length > max) {
    throw new ValidationError(`Package source is larger than ${max} bytes`, {
      issues: [{
        kind: "structure",
        path: "",
        message: `Package source is larger than ${max} bytes`,
        line: 1,
        col: 1,
      }],
    });
  }
  // File references resolve against the tenant the package names, once
  // the caller may touch that tenant.
  const first = parsePackage(source, {
    maxLimits: options.maxLimits,
    minScheduleIntervalMs: options.minScheduleIntervalMs,
  });
  const tenant = first.pkg?.tenant ?? tenantOf(source);
  if (tenant) options.authorize?.(tenant);
  const files: PendingFile[] = tenant ? await repo.list(tenant) : [];
  const own = new Set(files.map((f) => f.sha256));
  for (const p of options.pending ?? []) {
    const i = files.findIndex((f) => f.name === p.name);
    if (i >= 0) files[i] = p;
    else files.push(p);
  }
  const kinds = new Map(files.map((f) => [f.name, f.kind]));
  const { pkg, issues, schedules = [] } = parsePackage(source, {
    fileKind: (n) => kinds.get(n),
    maxLimits: options.maxLimits,
    minScheduleIntervalMs: options.minScheduleIntervalMs,
  });
  if (!pkg) throw packageError(issues);
  if (pkg.tenant !== tenant) options.authorize?.(pkg.tenant);
  const used = new Set([
    ...pkg.runtimes.map((r) => r.moduleref),
    ...pkg.jobs.flatMap((j) =>
      [j.event, j.result?.ok, j.result?.error].map((e) => e?.schema.schemaref)
    ),
  ]);
  const pinned: Record<string, string> = {};
  const judged: Record<string, string> = {};
  for (const f of files) {
    if (!used.has(f.name)) continue;
    pinned[f.name] = f.sha256;
    if (own.has(f.sha256)) judged[f.name] = f.sha256;
  }
  return { pkg, pinned, judged, schedules };
}

/** A 400 (or a 422 when only references fail) carrying every issue. */
export function packageError(issues: PackageIssue[]): Error {
  const refsOnly = issues.length > 0 &&
    issues.every((i) => i.kind === "reference");
  const detail =
    `The package has ${issues.length} problem${
      issues.length === 1 ? "" : "s"
    }: ` +
    issues.slice(0, 3).map((i) => `${i.line}:${i.col} ${i.message}`).join(
      "; ",
    ) + (issues.length > 3 ? "; ..." : "");
  return refsOnly
    ? new UnresolvedError(detail, { issues })
    : new ValidationError(detail, { issues });
}

/** The tenant named at the top level, when the rest of the package is broken. */
function tenantOf(source: string): string | undefined {
  const m = /^tenant:\s*["']?([A-Za-z0-9][A-Za-z0-9._-]{0,63})["']?\s*$/m.exec(
    source,
  );
  return m?.[1];
}
