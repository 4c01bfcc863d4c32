/**
 * What a deploy would change in a package: events, queues and runtimes
 * added, removed or changed, and files whose pinned content would change.
 * Pure: it compares two package versions (or what a deploy would store).
 */
import type { EventDef, JobPackage, RuntimeDef } from "./job_package.ts";
import { LIMIT_FIELDS } from "./runtime_limits.ts";
import type { ScheduleDef } from "./schedule.ts";
import { debounceText, rateLimitText } from "./flow_limits.ts";
import type { ConcurrencyDef } from "./concurrency.ts";

/** The parts of a package version the diff looks at. */
export interface DiffInput {
  package: JobPackage;
  /** File name -> sha-256, as pinned at deploy. */
  files: Record<string, string>;
}

/** One field that differs; `undefined` (absent in JSON) means not declared. */
export interface FieldChange {
  field: string;
  before?: unknown;
  after?: unknown;
}

/** One difference between two versions of a package. */
export interface PackageChange {
  kind: "package" | "event" | "queue" | "runtime" | "file";
  op: "added" | "removed" | "changed";
  /** The event, queue or runtime id; the file name; the package id. */
  id: string;
  /** For `changed`: every field that differs, in a stable order. */
  fields?: FieldChange[];
}

/**
 * The changes from `before` (the current version, or null when the package
 * is new) to `after`. Entries come by kind (package, events, queues,
 * runtimes, files); within a kind, removed first, in `before`'s order, then
 * added and changed in `after`'s order.
 */
export function diffPackages(
  before: DiffInput | null,
  after: DiffInput,
): PackageChange[] {
  const out: PackageChange[] = [];
  const a = before?.package;
  const b = after.package;
  if (a && (a.name ?? "") !== (b.name ?? "")) {
    out.push({
      kind: "package",
      op: "changed",
      id: b.id,
      fields: [field("name", a.name, b.name)],
    });
  }
  const items = [chainedItems(a), chainedItems(b)];
  out.push(
    ...diffById("event", events(a), events(b), (x, y) => [
      ...eventFields(x, y),
      // What a job sends to its result events, when it has some before and after.
      ...(items[0].has(x.id) && items[1].has(y.id)
        ? [field("result.item", items[0].get(x.id), items[1].get(y.id))]
          .filter(differs)
        : []),
    ]),
    ...diffById("queue", a?.queues ?? [], b.queues, () => []),
    ...diffById("runtime", a?.runtimes ?? [], b.runtimes, runtimeFields),
  );
  for (const [name, sha] of Object.entries(after.files)) {
    const old = before?.files[name];
    if (old !== undefined && old !== sha) {
      out.push({
        kind: "file",
        op: "changed",
        id: name,
        fields: [field("sha256", old, sha)],
      });
    }
  }
  return out;
}

function diffById<T extends { id: string }>(
  kind: PackageChange["kind"],
  before: T[],
  after: T[],
  compare: (a: T, b: T) => FieldChange[],
): PackageChange[] {
  const old = new Map(before.map((x) => [x.id, x]));
  const now = new Set(after.map((x) => x.id));
  const out: PackageChange[] = before
    .filter((x) => !now.has(x.id))
    .map((x) => ({ kind, op: "removed", id: x.id }));
  for (const x of after) {
    const prev = old.get(x.id);
    if (!prev) {
      out.push({ kind, op: "added", id: x.id });
      continue;
    }
    const fields = compare(prev, x);
    if (fields.length) out.push({ kind, op: "changed", id: x.id, fields });
  }
  return out;
}

/** Job events and result events, each once. */
function events(pkg: JobPackage | undefined): EventDef[] {
  const out = new Map<string, EventDef>();
  for (const j of pkg?.jobs ?? []) {
    for (const e of [j.event, j.result?.ok, j.result?.error]) {
      if (e && !out.has(e.id)) out.set(e.id, e);
    }
  }
  return [...out.values()];
}

/**
 * Job event id -> what it sends to its result events, for jobs that have
 * any (absent: a version deployed before `item` existed, the envelope).
 */
function chainedItems(pkg: JobPackage | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const j of pkg?.jobs ?? []) {
    if (j.result?.ok || j.result?.error) {
      out.set(j.event.id, j.result.item ?? "envelope");
    }
  }
  return out;
}

function eventFields(a: EventDef, b: EventDef): FieldChange[] {
  const out = [
    field("schema", a.schema.schemaref, b.schema.schemaref),
    field("queue", a.supplierqueue, b.supplierqueue),
    field("runtime", a.runtime, b.runtime),
  ];
  // When the platform sends it itself: the pattern, its zone, its payload.
  out.push(
    field(
      "schedule",
      a.schedule && scheduleText(a.schedule),
      b.schedule && scheduleText(b.schedule),
    ),
    field(
      "schedule.payload",
      a.schedule?.payload === undefined
        ? undefined
        : JSON.stringify(a.schedule.payload),
      b.schedule?.payload === undefined
        ? undefined
        : JSON.stringify(b.schedule.payload),
    ),
  );
  // How much of it runs (model/flow_limits.ts).
  out.push(
    field(
      "rateLimit",
      a.rateLimit && rateLimitText(a.rateLimit),
      b.rateLimit && rateLimitText(b.rateLimit),
    ),
    field(
      "debounce",
      a.debounce && debounceText(a.debounce),
      b.debounce && debounceText(b.debounce),
    ),
  );
  // How many run at once (per key value): `limit` or `limit per key`.
  out.push(
    field(
      "concurrency",
      a.concurrency && concurrencyText(a.concurrency),
      b.concurrency && concurrencyText(b.concurrency),
    ),
  );
  // Which items are leased first: "normal" when not declared.
  if (a.priority !== undefined || b.priority !== undefined) {
    out.push(
      field("priority", a.priority ?? "normal", b.priority ?? "normal"),
    );
  }
  // How the listener authenticates senders: "token" when not declared.
  if (a.auth !== undefined || b.auth !== undefined) {
    out.push(field("auth", a.auth ?? "token", b.auth ?? "token"));
  }
  return out.filter(differs);
}

function runtimeFields(a: RuntimeDef, b: RuntimeDef): FieldChange[] {
  return [
    field("module", a.moduleref, b.moduleref),
    field("mainFunction", a.mainfuncname || "event", b.mainfuncname || "event"),
    ...LIMIT_FIELDS.map(([yaml]) =>
      field(`limits.${yaml}`, a.limits?.[yaml], b.limits?.[yaml])
    ),
    field("retries", a.retries, b.retries),
    field("concurrency", a.concurrency, b.concurrency),
  ].filter(differs);
}

/** `2`, or with its key: `1 per $.customerId`. */
function concurrencyText(c: ConcurrencyDef): string {
  return c.key ? `${c.limit} per ${c.key}` : String(c.limit);
}

/** The pattern, or with its time zone: `0 9 * * * (Europe/Madrid)`. */
function scheduleText(s: ScheduleDef): string {
  return s.timezone ? `${s.cron} (${s.timezone})` : s.cron;
}

function field(name: string, before: unknown, after: unknown): FieldChange {
  return {
    field: name,
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
  };
}

function differs(f: FieldChange): boolean {
  return f.before !== f.after;
}
