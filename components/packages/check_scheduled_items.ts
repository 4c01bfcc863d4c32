/**
 * A deploy's check of what scheduled events send: the item of a tick
 * (`{scheduledAt, payload?}`, see model/schedule.ts) must match the event's
 * schema, or every tick would be refused at run time. Each mismatch is an
 * issue at the event's `schedule`, like any other problem of the package.
 */
import type { JobPackage, PackageIssue } from "../model/job_package.ts";
import type { SchedulePosition } from "../model/parse_package.ts";
import { scheduledItem } from "../model/schedule.ts";
import type { SchemaCache } from "../repo/compile_schema.ts";
import { describeSchemaError } from "../repo/describe_schema_error.ts";
import { declaredEvents } from "./package_store.ts";
import { packageError } from "./_validate_source.ts";

/**
 * Throws a ValidationError (400) naming each scheduled event whose tick
 * item its schema refuses. A schema file a dry run only assumes (not
 * uploaded yet) is not judged.
 */
export async function checkScheduledItems(
  pkg: JobPackage,
  pinned: Record<string, string>,
  at: SchedulePosition[],
  schemas: SchemaCache,
): Promise<void> {
  const issues: PackageIssue[] = [];
  for (const e of declaredEvents(pkg)) {
    if (!e.schedule) continue;
    const sha = pinned[e.schema.schemaref];
    let validate;
    try {
      validate = sha ? await schemas.get(sha, e.schema.schemaref) : null;
    } catch {
      validate = null;
    }
    if (!validate) continue;
    // Any tick: the schema sees a date-time and the payload.
    const item = scheduledItem(e.schedule, Date.UTC(2026, 0, 1));
    if (validate(item)) continue;
    const why = (validate.errors ?? []).slice(0, 3).map((err) => {
      const d = describeSchemaError(err);
      return `${d.path} ${d.message}`;
    }).join("; ");
    const pos = at.find((p) => p.event === e.id) ??
      { path: "", line: 1, col: 1 };
    issues.push({
      kind: "structure",
      path: pos.path,
      line: pos.line,
      col: pos.col,
      message: `What schedule of event "${e.id}" sends, ${
        JSON.stringify(item).slice(0, 200)
      }, does not match schema "${e.schema.schemaref}": ${why}`,
    });
  }
  if (issues.length > 0) throw packageError(issues);
}
