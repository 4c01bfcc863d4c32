/**
 * Parses and checks a job package (YAML, or JSON, which is YAML too) and
 * reports every problem at once, each with a path and a line and column.
 */
import { isScalar, LineCounter, type Node } from "yaml";
import {
  CHAINED_ITEMS,
  type ChainedItem,
  type EventAuth,
  type EventDef,
  type FileKind,
  type JobDef,
  type JobPackage,
  type PackageIssue,
  type QueueDef,
  type RuntimeDef,
} from "./job_package.ts";
import {
  Ctx,
  type Fields,
  join,
  parseYaml,
  quote,
  YamlTooDeepError,
} from "./_yaml_positions.ts";
import {
  compileSchedule,
  DEFAULT_MIN_SCHEDULE_INTERVAL_MS,
  describeMs,
  type ScheduleDef,
  shortestGapMs,
} from "./schedule.ts";
import { readDebounce, readRateLimit } from "./_parse_flow.ts";
import {
  DEFAULT_MAX_LIMITS,
  LIMIT_FIELDS,
  type Limits,
  type RuntimeLimitsDef,
} from "./runtime_limits.ts";
import { MAX_CONCURRENCY } from "./concurrency.ts";
import { readConcurrency } from "./_parse_concurrency.ts";
import { readPriority } from "./_parse_priority.ts";

/**
 * What {@linkcode parsePackage} checks beyond the package itself.
 *
 * @example
 * ```ts
 * const files = new Map([["greet.wasm", "wasm" as const]]);
 * const result = parsePackage(yaml, { fileKind: (name) => files.get(name) });
 * ```
 */
export interface ParsePackageOptions {
  /**
   * Looks up an uploaded file of the package's tenant: its kind, or
   * undefined when there is no such file. When absent, file references are
   * not checked.
   *
   * @default {undefined}
   */
  fileKind?: (name: string) => FileKind | undefined;
  /**
   * Largest source, in bytes (256 KiB).
   *
   * @default {262144}
   */
  maxBytes?: number;
  /**
   * The highest limits a runtime may declare.
   *
   * @default {DEFAULT_MAX_LIMITS}
   */
  maxLimits?: Limits;
  /**
   * The shortest time between two ticks of a `schedule`, in ms.
   *
   * @default {DEFAULT_MIN_SCHEDULE_INTERVAL_MS}
   */
  minScheduleIntervalMs?: number;
}

/** Where an event's `schedule` is written, to report what its ticks send. */
export interface SchedulePosition {
  event: string;
  path: string;
  line: number;
  col: number;
}

export interface ParsePackageResult {
  pkg?: JobPackage;
  issues: PackageIssue[];
  /** Where each scheduled event's schedule is (with `pkg`). */
  schedules?: SchedulePosition[];
}

const DEFAULT_MAX_BYTES = 256 * 1024;
/** Aliases allowed in one package; they are never expanded. */
const MAX_ALIASES = 50;
/** Levels of lists and mappings a package may nest (a valid one needs 6). */
const MAX_DEPTH = 32;
/** Issues listed for one package; the last one counts those beyond. */
const MAX_ISSUES = 100;
/** Export names a runtime may call: JavaScript-style identifiers. */
const FUNC_RE = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;

/** Required and optional keys of each mapping. */
type Keys = [required: string[], optional: string[]];
const ROOT: Keys = [["id", "tenant", "queues", "jobs", "runtimes"], ["name"]];
const QUEUE: Keys = [["id"], ["name"]];
const JOB: Keys = [["event"], ["result"]];
const RESULT: Keys = [[], ["ok", "error", "item"]];
const EVENT: Keys = [
  ["id", "schema", "supplierqueue", "runtime"],
  [
    "name",
    "datatype",
    "auth",
    "schedule",
    "rateLimit",
    "debounce",
    "concurrency",
    "priority",
  ],
];
const SCHEDULE: Keys = [["cron"], ["timezone", "payload"]];
/** The values of an event's `auth`, the default first. */
const EVENT_AUTH: readonly EventAuth[] = ["token", "hmac", "public"];
const SCHEMA: Keys = [["id", "schemaref"], ["name"]];
const RUNTIME: Keys = [["id", "moduleref"], [
  "name",
  "mainfuncname",
  "type",
  "limits",
  "retries",
  "concurrency",
]];
const LIMITS: Keys = [[], LIMIT_FIELDS.map(([key]) => key)];

/** `{ name }`, or nothing when there is no name. */
const named = (name: string | undefined) => name === undefined ? {} : { name };

type RefKind = "queue" | "runtime" | FileKind;
interface Ref {
  kind: RefKind;
  value: string;
  path: string;
  at: Node;
}
interface Declared {
  path: string;
  at: Node;
}

/** What one walk of a package collects besides issues. */
class Walk {
  readonly queues = new Map<string, Declared>();
  readonly runtimes = new Map<string, Declared>();
  readonly events = new Map<string, Declared>();
  readonly refs: Ref[] = [];
  readonly schedules: SchedulePosition[] = [];

  constructor(
    readonly c: Ctx,
    readonly maxLimits: Limits,
    readonly minIntervalMs: number,
    readonly now: number,
  ) {}

  /** Records a declared id, reporting it when already declared. */
  declare(
    into: Map<string, Declared>,
    what: string,
    id: string | undefined,
    f: Fields,
  ): void {
    if (id === undefined) return;
    const here = { path: join(f.path, "id"), at: f.at("id") };
    const first = into.get(id);
    if (!first) into.set(id, here);
    else {
      const line = this.c.pos(first.at).line;
      this.c.add(
        "structure",
        here.path,
        here.at,
        `Duplicate ${what} id ${
          quote(id)
        } (also declared at ${first.path}, line ${line})`,
      );
    }
  }

  /**
   * A schedule's payload as JSON: aliases resolved (they were stored as
   * `{"source": "r"}`), and what JSON cannot carry (`!!binary`, `!!set`,
   * `.inf`, `1e400`) reported instead of stored changed.
   */
  #payload(node: Node, path: string, at: Node): unknown {
    let value: unknown;
    try {
      value = node.toJS(this.c.doc, { maxAliasCount: 50 });
    } catch (err) {
      this.c.add(
        "structure",
        path,
        at,
        `Invalid payload: ${(err as Error).message}`,
      );
      return undefined;
    }
    const problem = notJson(value, path);
    if (problem) {
      this.c.add(
        "structure",
        problem.path,
        at,
        `Invalid payload: ${problem.what} cannot be sent as JSON`,
      );
      return undefined;
    }
    return value;
  }

  /** A reference checked once the whole package has been read. */
  ref(f: Fields, key: string, kind: RefKind): string | undefined {
    const file = kind !== "queue" && kind !== "runtime";
    const value = f.id(key, file ? "file name" : `${kind} id`, file);
    if (value !== undefined) {
      this.refs.push({ kind, value, path: join(f.path, key), at: f.at(key) });
    }
    return value;
  }

  root(raw: Node | null): JobPackage | undefined {
    const f = this.c.fields(this.c.deref(raw), "", raw ?? 0, ...ROOT);
    if (!f) return undefined;
    const id = f.id("id", "package id");
    const name = f.str("name");
    const tenant = f.id("tenant", "tenant");
    const queues = this.each(f, "queues", (n, p, at) => this.queue(n, p, at));
    const jobs = this.each(f, "jobs", (n, p, at) => this.job(n, p, at));
    const runtimes = this.each(
      f,
      "runtimes",
      (n, p, at) => this.runtime(n, p, at),
    );
    if (!id || !tenant || !queues || !jobs || !runtimes) return undefined;
    return { id, ...named(name), tenant, queues, jobs, runtimes };
  }

  /** Reads every entry of a required list (all of them, even after errors). */
  each<T>(
    f: Fields,
    key: string,
    read: (node: Node | null, path: string, at: Node) => T | undefined,
  ): T[] | undefined {
    const list = f.list(key);
    if (!list) return undefined;
    const out: T[] = [];
    let ok = true;
    list.items.forEach((item, i) => {
      const value = read(
        this.c.deref(item),
        `${join(f.path, key)}[${i}]`,
        (item as Node | null) ?? list,
      );
      if (value === undefined) ok = false;
      else out.push(value);
    });
    return ok ? out : undefined;
  }

  queue(node: Node | null, path: string, at: Node): QueueDef | undefined {
    const f = this.c.fields(node, path, at, ...QUEUE);
    if (!f) return undefined;
    const id = f.id("id", "queue id");
    const name = f.str("name");
    this.declare(this.queues, "queue", id, f);
    return id === undefined ? undefined : { id, ...named(name) };
  }

  job(node: Node | null, path: string, at: Node): JobDef | undefined {
    const f = this.c.fields(node, path, at, ...JOB);
    if (!f) return undefined;
    const event = this.event(f, "event");
    const resultNode = f.get("result");
    if (
      resultNode === undefined ||
      (isScalar(resultNode) && resultNode.value === null)
    ) {
      return event ? { event } : undefined;
    }
    const r = this.c.fields(
      resultNode,
      join(path, "result"),
      f.at("result"),
      ...RESULT,
    );
    const ok = r && this.event(r, "ok");
    const error = r && this.event(r, "error");
    const item = r && this.item(r);
    if (!event || !r || ok === null || error === null || item === null) {
      return undefined;
    }
    const result = {
      ...(ok && { ok }),
      ...(error && { error }),
      ...(item && { item }),
    };
    return ok || error ? { event, result } : { event };
  }

  /** A result's `item`: undefined when absent or empty, null when broken. */
  item(r: Fields): ChainedItem | undefined | null {
    const node = r.get("item");
    if (node === undefined || (isScalar(node) && node.value === null)) {
      return undefined;
    }
    const value = r.str("item"); // reports a value that is not a string
    if (value === undefined) return null;
    const item = CHAINED_ITEMS.find((i) => i === value);
    if (item) return item;
    r.ctx.add(
      "structure",
      join(r.path, "item"),
      r.at("item"),
      `Invalid item ${
        quote(value)
      }: use "result" (the default: the result itself) or "envelope" ({code, result, source})`,
    );
    return null;
  }

  /** An event under `key` of `f`: undefined when absent, null when broken. */
  event(f: Fields, key: string): EventDef | undefined | null {
    const node = f.get(key);
    if (
      node === undefined ||
      (key !== "event" && isScalar(node) && node.value === null)
    ) {
      return undefined;
    }
    const path = join(f.path, key);
    const e = this.c.fields(node, path, f.at(key), ...EVENT);
    if (!e) return null;
    const id = e.id("id", "event id");
    const name = e.str("name");
    const auth = this.auth(e);
    const schedule = this.schedule(e);
    const flow = this.flow(e, key, schedule);
    const concurrency = readConcurrency(e);
    const priority = readPriority(e);
    const datatype = e.zero("datatype", "JSON");
    const schemaNode = e.get("schema");
    const s = schemaNode === undefined ? undefined : this.c.fields(
      schemaNode,
      join(path, "schema"),
      e.at("schema"),
      ...SCHEMA,
    );
    const schemaId = s?.id("id", "schema id");
    const schemaName = s?.str("name");
    const schemaref = s && this.ref(s, "schemaref", "schema");
    const supplierqueue = this.ref(e, "supplierqueue", "queue");
    const runtime = this.ref(e, "runtime", "runtime");
    this.declare(this.events, "event", id, e);
    if (
      id === undefined || auth === null || schedule === null ||
      flow === null || concurrency === null || priority === null ||
      datatype === undefined ||
      schemaId === undefined || schemaref === undefined ||
      supplierqueue === undefined || runtime === undefined
    ) return null;
    const schema = { id: schemaId, ...named(schemaName), schemaref };
    return {
      id,
      ...named(name),
      ...(auth && { auth }),
      datatype,
      schema,
      supplierqueue,
      runtime,
      ...(schedule && { schedule }),
      ...flow,
      ...(concurrency && { concurrency }),
      ...(priority && { priority }),
    };
  }

  /**
   * An event's `rateLimit` and `debounce` (model/flow_limits.ts), which
   * apply to what the webhook receives: not on a result event (sent by the
   * platform), a scheduled one, nor both on one event. Null when broken.
   */
  flow(
    e: Fields,
    key: string,
    schedule: ScheduleDef | undefined | null,
  ): Pick<EventDef, "rateLimit" | "debounce"> | null {
    const rateLimit = readRateLimit(e);
    const debounce = readDebounce(e);
    if (rateLimit === null || debounce === null) return null;
    const declared = (["rateLimit", "debounce"] as const).filter((k) =>
      (k === "rateLimit" ? rateLimit : debounce) !== undefined
    );
    if (declared.length === 0) return {};
    const first = declared[0];
    const refuse = (message: string, at = first) => {
      this.c.add("structure", join(e.path, at), e.at(at), message);
      return null;
    };
    if (key !== "event") {
      return refuse(
        `${first} applies to events received at the webhook: a result event is sent by the platform; declare it on a job's event`,
      );
    }
    if (schedule) {
      return refuse(
        `${first} does not apply to a scheduled event: the platform sends each tick once`,
      );
    }
    if (declared.length === 2) {
      return refuse(
        "Declare rateLimit or debounce on an event, not both",
        "debounce",
      );
    }
    return {
      ...(rateLimit && { rateLimit }),
      ...(debounce && { debounce }),
    };
  }

  /**
   * An event's `schedule`: a cron string or `{cron, timezone, payload}`;
   * undefined when absent or empty, null when broken.
   */
  schedule(e: Fields): ScheduleDef | undefined | null {
    const node = e.get("schedule");
    if (node === undefined || (isScalar(node) && node.value === null)) {
      return undefined;
    }
    const path = join(e.path, "schedule");
    let def: ScheduleDef;
    let at: Node = e.at("schedule");
    let tzAt: Node = at;
    let cronPath = path;
    if (isScalar(node)) {
      const cron = e.str("schedule"); // reports a value that is not a string
      if (cron === undefined) return null;
      def = { cron };
    } else {
      const s = this.c.fields(node, path, at, ...SCHEDULE);
      if (!s) return null;
      const cron = s.str("cron"); // reports a value that is not a string
      const timezone = s.str("timezone"); // empty: UTC
      const payloadNode = s.get("payload");
      if (cron === undefined) {
        const cronNode = s.get("cron");
        if (isScalar(cronNode) && cronNode.value === null) {
          this.c.wrongType(
            join(path, "cron"),
            cronNode,
            s.at("cron"),
            "a string",
          );
        }
        return null;
      }
      at = s.at("cron");
      tzAt = s.at("timezone");
      cronPath = join(path, "cron");
      let payload: unknown;
      if (payloadNode !== undefined && payloadNode !== null) {
        payload = this.#payload(
          payloadNode,
          join(path, "payload"),
          s.at("payload"),
        );
        if (payload === undefined) return null;
      }
      def = {
        cron,
        ...(timezone !== undefined && { timezone }),
        ...(payload !== undefined && { payload }),
      };
    }
    let compiled;
    try {
      compiled = compileSchedule(def);
    } catch (err) {
      const tz = def.timezone !== undefined &&
        /time ?zone/i.test((err as Error).message);
      this.c.add(
        "structure",
        tz ? join(path, "timezone") : cronPath,
        tz ? tzAt : at,
        `Invalid schedule ${quote(def.cron)}: ${(err as Error).message}`,
      );
      return null;
    }
    const gap = shortestGapMs(compiled, this.now);
    if (gap === null) {
      this.c.add(
        "structure",
        cronPath,
        at,
        `Schedule ${quote(def.cron)} never fires: no date matches it`,
      );
      return null;
    }
    if (gap < this.minIntervalMs) {
      this.c.add(
        "structure",
        cronPath,
        at,
        `Schedule ${quote(def.cron)} fires every ${
          describeMs(gap)
        }: schedules may fire at most once every ${
          describeMs(this.minIntervalMs)
        }`,
      );
      return null;
    }
    const { line, col } = this.c.pos(e.at("schedule"));
    this.schedules.push({ event: e.ctx.text(e.get("id")), path, line, col });
    return def;
  }

  /** An event's `auth`: undefined when absent or empty, null when broken. */
  auth(e: Fields): EventAuth | undefined | null {
    const node = e.get("auth");
    if (node === undefined || (isScalar(node) && node.value === null)) {
      return undefined;
    }
    const value = e.str("auth"); // reports a value that is not a string
    if (value === undefined) return null;
    const auth = EVENT_AUTH.find((mode) => mode === value);
    if (auth) return auth;
    e.ctx.add(
      "structure",
      join(e.path, "auth"),
      e.at("auth"),
      `Invalid auth ${
        quote(value)
      }: use "token" (the default), "hmac" or "public"`,
    );
    return null;
  }

  runtime(node: Node | null, path: string, at: Node): RuntimeDef | undefined {
    const f = this.c.fields(node, path, at, ...RUNTIME);
    if (!f) return undefined;
    const id = f.id("id", "runtime id");
    const name = f.str("name");
    const moduleref = this.ref(f, "moduleref", "wasm");
    let mainfuncname = f.str("mainfuncname") || "event";
    if (!FUNC_RE.test(mainfuncname)) {
      f.ctx.add(
        "structure",
        join(path, "mainfuncname"),
        f.at("mainfuncname"),
        `Invalid mainfuncname ${
          quote(mainfuncname)
        }: use a function name of letters, digits, "_" and "$", not starting with a digit`,
      );
      mainfuncname = "";
    }
    const type = f.zero("type", "wasm");
    const limits = this.limits(f, path);
    const retries = f.int("retries", 0, this.maxLimits.retries);
    const concurrency = f.int("concurrency", 1, MAX_CONCURRENCY);
    this.declare(this.runtimes, "runtime", id, f);
    if (
      id === undefined || moduleref === undefined || !mainfuncname ||
      type === undefined || limits === null || retries === null ||
      concurrency === null
    ) return undefined;
    return {
      id,
      ...named(name),
      moduleref,
      mainfuncname,
      type,
      ...(limits && { limits }),
      ...(retries !== undefined && { retries }),
      ...(concurrency !== undefined && { concurrency }),
    };
  }

  /** A runtime's `limits`: undefined when absent, null when broken. */
  limits(f: Fields, path: string): RuntimeLimitsDef | undefined | null {
    const node = f.get("limits");
    if (node === undefined || (isScalar(node) && node.value === null)) {
      return undefined;
    }
    const l = this.c.fields(
      node,
      join(path, "limits"),
      f.at("limits"),
      ...LIMITS,
    );
    if (!l) return null;
    const out: RuntimeLimitsDef = {};
    let ok = true;
    for (const [key, field] of LIMIT_FIELDS) {
      const value = l.int(key, 1, this.maxLimits[field]);
      if (value === null) ok = false;
      else if (value !== undefined) out[key] = value;
    }
    return ok ? out : null;
  }

  /** Checks every reference against the declarations and uploaded files. */
  checkRefs(fileKind: ParsePackageOptions["fileKind"]): void {
    const kinds = new Map<string, FileKind | undefined>();
    for (const ref of this.refs) {
      if (ref.kind === "queue" || ref.kind === "runtime") {
        const declared = ref.kind === "queue" ? this.queues : this.runtimes;
        if (declared.has(ref.value)) continue;
        const ids = [...declared.keys()];
        const list = ids.length === 0
          ? "none declared"
          : `declared: ${ids.slice(0, 10).map(quote).join(", ")}${
            ids.length > 10 ? ` and ${ids.length - 10} more` : ""
          }`;
        const what = ref.kind === "queue" ? "Queue" : "Runtime";
        this.c.add(
          "reference",
          ref.path,
          ref.at,
          `${what} ${
            quote(ref.value)
          } is not declared in ${ref.kind}s (${list})`,
        );
      } else if (fileKind) {
        if (!kinds.has(ref.value)) kinds.set(ref.value, fileKind(ref.value));
        const kind = kinds.get(ref.value);
        if (kind === ref.kind) continue;
        const message = kind === undefined
          ? `No file named ${
            quote(ref.value)
          } was uploaded for the tenant (expected a ${ref.kind} file)`
          : `File ${
            quote(ref.value)
          } is a ${kind} file, expected a ${ref.kind} file`;
        this.c.add("reference", ref.path, ref.at, message);
      }
    }
  }
}

/** Parses a job package and checks its structure and references. */
export function parsePackage(
  source: string,
  options: ParsePackageOptions = {},
): ParsePackageResult {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  // UTF-8 takes at least one byte per UTF-16 unit and at most three.
  const bytes = source.length > maxBytes || source.length * 3 <= maxBytes
    ? source.length
    : new TextEncoder().encode(source).length;
  if (bytes > maxBytes) {
    const message =
      `Package is too large: ${bytes} bytes, at most ${maxBytes} are allowed`;
    return {
      issues: [{ kind: "structure", path: "", message, line: 1, col: 1 }],
    };
  }
  const lc = new LineCounter();
  let doc;
  try {
    doc = parseYaml(source, lc, MAX_DEPTH);
  } catch (error) {
    if (error instanceof YamlTooDeepError) {
      const message =
        `Too deeply nested: lists and mappings may nest at most ${error.limit} levels`;
      const at = lc.linePos(error.offset);
      return { issues: [{ kind: "structure", path: "", message, ...at }] };
    }
    // Not expected: the parser reports errors as doc.errors.
    const message = `Unreadable YAML: ${sentence(String(error))}`;
    return { issues: [{ kind: "syntax", path: "", message, line: 1, col: 1 }] };
  }
  const c = new Ctx(source, doc, lc);
  let broken = false;
  for (const error of doc.errors) {
    const multiple = error.code === "MULTIPLE_DOCS";
    broken ||= !multiple;
    const message = multiple
      ? "Expected a single document, found more than one"
      : sentence(error.message);
    c.add(multiple ? "structure" : "syntax", "", error.pos[0], message);
  }
  c.indexAliases(MAX_ALIASES);
  // The structure of a broken document is not checked.
  broken ||= c.issues.some((issue) => issue.kind === "syntax");
  if (broken) return { issues: sorted(c.issues) };

  const walk = new Walk(
    c,
    options.maxLimits ?? DEFAULT_MAX_LIMITS,
    options.minScheduleIntervalMs ?? DEFAULT_MIN_SCHEDULE_INTERVAL_MS,
    Date.now(),
  );
  const pkg = walk.root(doc.contents);
  walk.checkRefs(options.fileKind);
  if (c.issues.length > 0 || !pkg) return { issues: sorted(c.issues) };
  return { pkg, issues: [], schedules: walk.schedules };
}

function sentence(message: string): string {
  const text = message.trim().replace(/\.$/, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The issues in source order, at most `MAX_ISSUES` of them: 60 KiB of
 * repeated mistakes would otherwise make an answer of megabytes. The last
 * one listed then counts the rest.
 */
function sorted(issues: PackageIssue[]): PackageIssue[] {
  issues.sort((a, b) => a.line - b.line || a.col - b.col);
  if (issues.length <= MAX_ISSUES) return issues;
  const rest = issues.length - (MAX_ISSUES - 1);
  const next = issues[MAX_ISSUES - 1];
  return [...issues.slice(0, MAX_ISSUES - 1), {
    kind: next.kind,
    path: next.path,
    message: `${rest} more issues, from here on, are not listed`,
    line: next.line,
    col: next.col,
  }];
}

/** The first value in `v` that JSON cannot carry, and where. */
function notJson(
  v: unknown,
  path: string,
): { path: string; what: string } | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") {
    return undefined;
  }
  if (typeof v === "number") {
    return Number.isFinite(v)
      ? undefined
      : { path, what: `the number ${v} (beyond what JSON can hold)` };
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = notJson(v[i], `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) {
      const p = notJson(x, join(path, k));
      if (p) return p;
    }
    return undefined;
  }
  const what = v instanceof Uint8Array
    ? "binary data (!!binary)"
    : v instanceof Set
    ? "a set (!!set)"
    : v instanceof Map
    ? "a mapping with keys that are not strings"
    : v instanceof Date
    ? "a timestamp (!!timestamp)"
    : `a value of type ${typeof v}`;
  return { path, what };
}
