import type { DeployPlan, FieldChange, PackageChange } from "../api_types.ts";
import type { Output } from "../output.ts";

/** A file `deploy --dry-run` would upload, against the tenant's file of that name. */
export interface UploadPlan {
  name: string;
  kind: string;
  /** The local path. */
  path: string;
  sha256: string;
  status: "new" | "changed" | "unchanged";
  /** The tenant's current content, when it differs. */
  currentSha256?: string;
}

const SIGN = { added: "+", removed: "-", changed: "~" } as const;

/**
 * Prints a dry run: the files that would be uploaded, then every change
 * against the current version, one a line: `+ added`, `- removed`,
 * `~ changed: what before → after`.
 */
export function printPlan(
  out: Output,
  plan: DeployPlan,
  uploads: UploadPlan[],
): void {
  const c = out.colors;
  const paint = (op: keyof typeof SIGN, text: string) =>
    op === "added" ? c.green(text) : op === "removed" ? c.red(text) : c.yellow(
      text,
    );
  const against = plan.currentVersion === null
    ? "a new package"
    : `against version ${plan.currentVersion}`;
  out.line(
    `Dry run of ${plan.tenant}/${plan.id} (${against}): nothing uploaded or deployed`,
  );
  if (uploads.length) {
    out.line("Would upload:");
    for (const u of uploads) {
      const [sign, op, what] = u.status === "new"
        ? ["+", "added", "new file"] as const
        : u.status === "changed"
        ? [
          "~",
          "changed",
          `content differs: ${short(u.currentSha256!)} → ${short(u.sha256)}`,
        ] as const
        : ["=", undefined, "same content, unchanged"] as const;
      const line = `  ${sign} ${u.kind} ${u.name} (${what})`;
      out.line(op ? paint(op, line) : c.dim(line));
    }
  }
  if (plan.unchanged) {
    out.line(
      `Unchanged: a deploy would keep version ${plan.currentVersion} (--force makes a new one)`,
    );
    return;
  }
  if (plan.changes.length === 0) {
    out.line(
      plan.currentVersion === null
        ? "No changes"
        : `No changes to events, queues, runtimes or files against version ${plan.currentVersion}; the source differs, so a deploy makes a new version`,
    );
    return;
  }
  out.line(
    plan.currentVersion === null
      ? "Would create:"
      : `Changes against version ${plan.currentVersion}:`,
  );
  for (const ch of plan.changes) {
    out.line(paint(ch.op, `  ${formatChange(ch)}`));
  }
}

/** `~ runtime greet-c: module greet.wasm → echo.wasm, retries (default) → 0`. */
export function formatChange(ch: PackageChange): string {
  const head = `${SIGN[ch.op]} ${ch.kind} ${ch.id}`;
  if (!ch.fields?.length) return head;
  return `${head}: ${ch.fields.map(formatField).join(", ")}`;
}

function formatField(f: FieldChange): string {
  const show = (v: unknown) =>
    v === undefined
      ? (/^(limits\.|retries$)/.test(f.field) ? "(default)" : "(not set)")
      : f.field === "sha256"
      ? short(String(v))
      : typeof v === "string"
      ? v
      : JSON.stringify(v);
  return `${f.field} ${show(f.before)} → ${show(f.after)}`;
}

function short(sha: string): string {
  return sha.slice(0, 12);
}
