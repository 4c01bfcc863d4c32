/**
 * Keeps execution records: written inside the executor's atomic (so a record
 * exists exactly when its event was acknowledged), listed newest first with
 * filters and cursors, and followed live through a change feed.
 */
import {
  ChangeFeed,
  KvLimitError,
  kvValueSize,
  SameKeys,
  ValidationError,
  WriteBatch,
} from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import { keys } from "../model/keys.ts";
import type { Execution } from "./execution.ts";
import { ExecutionLog, type Recorded } from "./execution_log.ts";
import { executionJson, executionOf } from "./execution_value.ts";

export interface ExecutionFilter {
  package?: string;
  event?: string;
  status?: Execution["status"];
}

export interface ListOptions extends ExecutionFilter {
  /** 1 to 1000. Default 100. */
  limit?: number;
  /** From a previous page's `cursor`. */
  cursor?: string;
}

/** A record made to fit one KV value (see `ExecutionStore.fit`), with that value. */
export interface FittedExecution {
  readonly record: Execution;
  /** What keeps it in the KV: its JSON bytes, or the record itself when they would not fit. */
  readonly value: unknown;
  /** The value's size stored (what the KV write is measured by), in bytes. */
  readonly bytes: number;
}

/**
 * A record's value holds at most this (a KV value holds 64 KiB). A record
 * is kept as its JSON bytes when they fit; otherwise as it is, by the KV's
 * V8 serializer, measured as that writes it (`kvValueSize`: a string with
 * one character above U+00FF takes two bytes for every character), and it
 * loses log lines, then its input, until it fits.
 */
const MAX_RECORD_BYTES = 60 * 1024;
const MAX_RESULT_CHARS = 16 * 1024;
const MAX_ERROR_CHARS = 4 * 1024;
/**
 * Records one atomic of `sweep` deletes, at most (with the log entries of
 * their commits written again: a pass whose atomic would be too large
 * takes half as many).
 */
const MAX_SWEEP_BATCH = 200;
/** How many records a filtered page may scan. */
const MAX_SCAN = 20_000;

export class ExecutionStore {
  readonly #feeds = new Map<string, ChangeFeed>();
  /** Each tenant's "recorded" counter key, the same array each time (sums of it merge). */
  readonly #recordedKeys = new SameKeys((tenant) =>
    keys.executionCount(tenant, "recorded")
  );
  /** Each tenant's executions in commit order, for the live streams. */
  readonly log: ExecutionLog;
  /** Tenants whose inbox entries this process is moving to their log, and what to move next. */
  readonly #moving = new Map<
    string,
    { entries: Recorded[]; done: Promise<void> }
  >();
  /** Tenants whose whole inbox this process has moved once. */
  readonly #tidied = new Set<string>();

  constructor(private readonly kv: Deno.Kv) {
    this.log = new ExecutionLog(kv);
  }

  feed(tenant: string): ChangeFeed {
    let f = this.#feeds.get(tenant);
    if (!f) {
      f = new ChangeFeed(this.kv, keys.executionSignal(tenant));
      this.#feeds.set(tenant, f);
    }
    return f;
  }

  /**
   * Trims an execution so that it fits one KV value, and makes that value:
   * its result and error are cut, and log lines dropped (with a note) when
   * it is too large.
   */
  fit(exec: Execution): FittedExecution {
    return fit(exec);
  }

  /**
   * Adds the writes that record a fitted execution to a batch: its record,
   * its inbox entry (see execution_log.ts), its tenant's count and change
   * feed (written once per batch however many records of the tenant it
   * holds). The count's sum is what orders the tenant's recording commits
   * on every store: the log depends on it. Once the batch is committed,
   * tell `committed`.
   */
  record(batch: WriteBatch, fitted: FittedExecution): WriteBatch {
    const { record, value, bytes } = fitted;
    // Measured by fit: not walked again.
    batch.set(keys.execution(record.tenant, record.id), value, { bytes });
    this.log.inbox(batch, record.tenant, record.id);
    this.feed(record.tenant).notify(batch);
    return batch.sum(this.#recordedKeys.get(record.tenant), 1n);
  }

  /**
   * Told that records were committed (in the atomic whose versionstamp is
   * given): their inbox entries are moved to their tenants' logs in the
   * background, one move at a time per tenant (records committed meanwhile
   * go with the next), without reading anything. The first move of a
   * tenant in this process also moves what was left in its inbox (by a
   * process that died before moving its own). A move that fails is left
   * to later ones: readers read the inbox too.
   */
  committed(
    records: Iterable<Pick<Execution, "tenant" | "id">>,
    versionstamp: string,
  ): void {
    const byTenant = new Map<string, Recorded[]>();
    for (const { tenant, id } of records) {
      const list = byTenant.get(tenant);
      if (list) list[0].ids.push(id);
      else byTenant.set(tenant, [{ versionstamp, ids: [id] }]);
    }
    for (const [tenant, entries] of byTenant) {
      const running = this.#moving.get(tenant);
      if (running) {
        running.entries.push(...entries);
        continue;
      }
      const state = { entries, done: Promise.resolve() };
      this.#moving.set(tenant, state);
      state.done = (async () => {
        if (!this.#tidied.has(tenant)) {
          if (this.#tidied.size >= 10_000) this.#tidied.clear();
          this.#tidied.add(tenant);
          state.entries = [];
          await this.log.settle(tenant).catch(() => false);
        }
        while (state.entries.length > 0) {
          const taken = state.entries.splice(0);
          await this.log.move(tenant, taken).catch(() => {});
        }
        this.#moving.delete(tenant);
      })();
    }
  }

  /** Resolves once the moves `committed` started have ended. */
  async settled(): Promise<void> {
    while (this.#moving.size > 0) {
      await Promise.all([...this.#moving.values()].map((s) => s.done));
    }
  }

  /** Adds the writes that record fitted executions to a batch (see `record`). */
  recordAll(batch: WriteBatch, fitted: FittedExecution[]): WriteBatch {
    for (const f of fitted) this.record(batch, f);
    return batch;
  }

  /**
   * How many executions the tenant keeps: those recorded since the counters
   * exist, less those the retention sweeper removed (records made before
   * the counters existed are not counted; they age out).
   */
  async count(tenant: string): Promise<number> {
    const [recorded, swept] = await this.kv.getMany<[Deno.KvU64, Deno.KvU64]>(
      [
        keys.executionCount(tenant, "recorded"),
        keys.executionCount(tenant, "swept"),
      ],
    );
    return Math.max(
      0,
      Number((recorded.value?.value ?? 0n) - (swept.value?.value ?? 0n)),
    );
  }

  /**
   * Removes a tenant's oldest executions: those recorded before `before`
   * (ms since the epoch) and, beyond them, as many as it keeps over `keep`.
   * At most `max` go, in atomics of at most `batch` records (200 at most,
   * see MAX_SWEEP_BATCH), each with its log keys, each atomic also
   * checking `guard` (the sweeper's lease). Returns how many went; stops
   * early (without error) when a guard check fails.
   */
  async sweep(
    tenant: string,
    options: {
      before?: number;
      keep?: number;
      max: number;
      batch?: number;
      guard?: () => Promise<Deno.AtomicCheck[]>;
    },
  ): Promise<{ deleted: number; done: boolean }> {
    const batchSize = Math.min(
      options.batch ?? MAX_SWEEP_BATCH,
      MAX_SWEEP_BATCH,
    );
    const cutoff = options.before !== undefined && options.before > 0
      ? Math.floor(options.before).toString(36).padStart(9, "0")
      : null;
    let over = options.keep !== undefined
      ? (await this.count(tenant)) - options.keep
      : 0;
    let deleted = 0;
    let want = Math.min(batchSize, options.max);
    let failed = 0;
    // What a recorder died before moving goes to the log first: the log's
    // entries are what a pass takes its records out of.
    await this.log.settle(tenant);
    while (deleted < options.max) {
      want = Math.min(want, options.max - deleted);
      const doomed: { key: Deno.KvKey; versionstamp: string }[] = [];
      // Oldest first: ids begin with their millisecond in base 36.
      for await (
        const e of this.kv.list({ prefix: keys.executions(tenant) }, {
          limit: want,
          batchSize: Math.min(want, 100),
        })
      ) {
        const id = e.key[2] as string;
        if (over > doomed.length || (cutoff !== null && id < cutoff)) {
          doomed.push(e);
        } else break;
      }
      const records = doomed.length;
      if (records === 0) return { deleted, done: true };
      const swept = await this.kv.get<Deno.KvU64>(
        keys.executionCount(tenant, "swept"),
      );
      // Only the sweeper writes "swept", and checks it: a tenant deleted
      // meanwhile (its counters gone) is not given a new one.
      const op = new WriteBatch(this.kv).check(swept);
      try {
        for (const c of await options.guard?.() ?? []) op.check(c);
        for (const d of doomed) op.delete(d.key);
        await this.log.forget(
          op,
          tenant,
          doomed,
          doomed[records - 1].key[2] as string,
        );
        op.set(
          swept.key,
          new Deno.KvU64((swept.value?.value ?? 0n) + BigInt(records)),
        );
      } catch (err) {
        if (!(err instanceof KvLimitError) || want === 1) throw err;
        want = Math.ceil(want / 2);
        continue;
      }
      if (!(await op.commit()).ok) {
        // The guard, or a move of the log entries read (tried again).
        if (++failed >= 3) return { deleted, done: false };
        continue;
      }
      failed = 0;
      deleted += records;
      over -= records;
      if (records < want) return { deleted, done: true };
    }
    return { deleted, done: false };
  }

  async get(tenant: string, id: string): Promise<Execution | null> {
    const { value } = await this.kv.get(keys.execution(tenant, id));
    return value === null ? null : executionOf(value);
  }

  /** A page of executions, newest first. */
  async list(
    tenant: string,
    options: ListOptions = {},
  ): Promise<{ executions: Execution[]; cursor: string | null }> {
    checkName("tenant", tenant);
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError(
        `Invalid limit "${options.limit}": use a whole number from 1 to 1000`,
      );
    }
    if (
      options.cursor !== undefined && !/^[0-9a-z]{19}$/.test(options.cursor)
    ) {
      throw new ValidationError(
        `Invalid cursor "${options.cursor}": pass the cursor of a previous page`,
      );
    }
    const prefix = keys.executions(tenant);
    const selector: Deno.KvListSelector = options.cursor
      ? { prefix, end: [...prefix, options.cursor] }
      : { prefix };
    const out: Execution[] = [];
    let scanned = 0;
    let lastId: string | null = null;
    for await (
      const e of this.kv.list(selector, { reverse: true, batchSize: 500 })
    ) {
      const exec = executionOf(e.value);
      lastId = exec.id;
      if (matches(exec, options)) out.push(exec);
      if (out.length === limit || ++scanned >= MAX_SCAN) {
        return { executions: out, cursor: lastId };
      }
    }
    return { executions: out, cursor: null };
  }
}

/** Whether an execution passes a filter. */
export function matches(e: Execution, f: ExecutionFilter): boolean {
  return (!f.package || e.package === f.package) &&
    (!f.event || e.event === f.event) &&
    (!f.status || e.status === f.status);
}

/** Trims the result and error and drops log lines so a record fits in one KV value. */
function fit(exec: Execution): FittedExecution {
  let e = exec;
  if (e.result !== null && e.result.length > MAX_RESULT_CHARS) {
    e = {
      ...e,
      result: e.result.slice(0, MAX_RESULT_CHARS) +
        `... [truncated ${e.result.length - MAX_RESULT_CHARS} chars]`,
    };
  }
  if (e.error !== null && e.error.length > MAX_ERROR_CHARS) {
    e = {
      ...e,
      error: e.error.slice(0, MAX_ERROR_CHARS) +
        `... [truncated ${e.error.length - MAX_ERROR_CHARS} chars]`,
    };
  }
  // Most records: their JSON fits, and is what is kept.
  const json = executionJson(e, MAX_RECORD_BYTES);
  if (json) return { record: e, value: json, bytes: json.length };
  const size = () => kvValueSize(e);
  let bytes = size();
  // A large input (half a record or more) goes before log lines; a small
  // one only when dropping log lines was not enough (below).
  if (bytes > MAX_RECORD_BYTES && kvValueSize(e.input) > MAX_RECORD_BYTES / 2) {
    e = withoutInput(e);
    bytes = size();
  }
  const logs = [...e.logs];
  let dropped = 0;
  while (logs.length > 0 && bytes > MAX_RECORD_BYTES) {
    logs.splice(
      Math.floor(logs.length / 2),
      Math.max(1, Math.floor(logs.length / 4)),
    )
      .forEach(() => dropped++);
    e = {
      ...e,
      logs: [...logs, {
        level: "warn",
        source: "host",
        message:
          `${dropped} log lines dropped: the record exceeded ${MAX_RECORD_BYTES} bytes`,
      }],
    };
    bytes = size();
  }
  if (bytes > MAX_RECORD_BYTES && e.input !== undefined) {
    e = withoutInput(e);
    bytes = size();
  }
  // Trimmed for V8's measure: as JSON if that fits now.
  const trimmed = executionJson(e, MAX_RECORD_BYTES);
  if (trimmed) return { record: e, value: trimmed, bytes: trimmed.length };
  return { record: e, value: e, bytes };
}

/** `e` without its input, with a note saying why it cannot be re-run. */
function withoutInput(e: Execution): Execution {
  const { input, ...rest } = e;
  return {
    ...rest,
    logs: [...e.logs, {
      level: "warn",
      source: "host",
      message: `The input was not kept (${
        kvValueSize(input)
      } bytes): the record exceeded ${MAX_RECORD_BYTES} bytes; it cannot be re-run`,
    }],
  };
}
