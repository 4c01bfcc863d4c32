/**
 * A tenant's executions in the order of the commits that recorded them,
 * for the live streams and their resumes. Execution ids are made by each
 * recording process with its own clock before its commit, so id order is
 * not commit order: a reader that follows ids passes over an execution
 * committed late with a smaller id. The log follows the store's own order.
 *
 * Why the versionstamps of a tenant's records are in commit order: every
 * atomic that records executions of a tenant also sums the tenant's
 * "recorded" counter. Deno KV (a SQLite file, shared by processes or not)
 * takes each commit's versionstamp inside its write transaction, one after
 * the other. PgKv locks a summed key until the commit ends and takes the
 * versionstamp only once it holds its locks, so two commits summing the
 * same counter take their versionstamps in the order they commit. Hence:
 * once the counter's versionstamp is H, every record with a versionstamp
 * up to H is committed and visible, and every record committed later has
 * a larger one, whatever the processes' clocks.
 *
 * The log is keyed by versionstamp, which a commit cannot put in its own
 * keys (Deno KV has no versionstamped keys, and PgKv mirrors its API). So
 * the recording atomic also writes a small inbox entry per tenant
 * (`["execnew", tenant, first id, how many]`, the ids it records as its
 * value, in that one atomic: it exists exactly when the records do), and
 * inbox entries are then moved into the log (`["execlog", tenant,
 * versionstamp]`, the versionstamp of the records, the same ids), the
 * delete and the set in one atomic, so an execution is always in exactly
 * one of the two. One entry per commit, not per record: a commit of
 * hundreds of records writes and moves one key. The recording process
 * moves its own right after its commit, whose versionstamp and ids it
 * knows (`move`: no read, a check that each entry is still there);
 * `settle` reads the inbox and moves what it holds: the first time a
 * process records for a tenant (what a process that died left), when a
 * move finds an entry gone, and when a reader finds more than 1000
 * executions in the inbox. The retention sweeper takes the records it
 * removes out of the entries that hold them (`forget`).
 *
 * A read after position P first takes the counter's versionstamp H, then
 * lists the inbox, then the log from P up to H: an execution with a
 * versionstamp up to H that is not in the inbox when it is listed was
 * moved before, so it is in the log when that is listed. So the read gets
 * every execution between P and H, and the next read starts after H:
 * nothing is passed over, nothing comes twice, and a read costs what is
 * new plus the inbox (what was recorded since the last settle), never the
 * history.
 *
 * A position is text that sorts in commit order: the versionstamp (20
 * hex digits) and the execution id; `""` is before everything, and a
 * versionstamp followed by "~" is after everything of that commit.
 */
import { SameKeys } from "@jobico/goico";
import type { Execution } from "./execution.ts";
import { keys } from "../model/keys.ts";
import { executionOf } from "./execution_value.ts";

/** A place in a tenant's log (see the module's documentation). */
export type LogPosition = string;

/** Before every execution. */
export const LOG_START: LogPosition = "";

/** Executions read from the log, and where the next read starts. */
export interface LogPage {
  /** In commit order, each with its position. */
  entries: { position: LogPosition; execution: Execution }[];
  /** Everything up to it has been read: the next read starts after it. */
  through: LogPosition;
  /** Whether more may be there already (the page was full). */
  more: boolean;
}

/** Inbox entries moved in one atomic (two mutations each, within the KV's key bytes). */
const SETTLE_BATCH = 200;
/** Inbox entries moved by `move` in one atomic (a check each: 100 at most). */
const MOVE_BATCH = 100;
/**
 * Ids moved in one atomic, at most (about 25 bytes each in the values,
 * well within the 800 KB a write takes); an entry holds 1000 at most (a
 * commit's mutations).
 */
const MOVE_IDS = 8_000;
/** Rounds of a settle before it gives up (a tenant recording faster than it moves). */
const SETTLE_ROUNDS = 50;
/** Executions in the inbox a read takes as they are; beyond, it settles them first. */
const INBOX_READ = 1000;

/** One recording commit's executions of a tenant: its versionstamp and their ids. */
export interface Recorded {
  versionstamp: string;
  ids: string[];
}

function positionOf(versionstamp: string, id: string): LogPosition {
  return versionstamp + id;
}

/** The position after everything committed up to `versionstamp`. */
function endOf(versionstamp: string): LogPosition {
  return versionstamp + "~";
}

/**
 * The ids an inbox or log entry holds: its list, or for an entry of one
 * execution as versions before 2026-12-04 wrote them (`["execnew", tenant,
 * id]` and `["execlog", tenant, versionstamp, id]`, 1 as the value) its id,
 * the key's last part.
 */
function idsOf(e: { key: Deno.KvKey; value: unknown }): string[] {
  if (Array.isArray(e.value)) return e.value as string[];
  const id = e.key[e.key.length - 1];
  return typeof id === "string" ? [id] : [];
}

/** Whether an inbox entry is one execution's, as versions before 2026-12-04 wrote it. */
function legacy(e: { value: unknown }): boolean {
  return !Array.isArray(e.value);
}

export class ExecutionLog {
  /** Each tenant's inbox prefix, the same array each time. */
  readonly #inboxes = new SameKeys(keys.executionInboxes);

  constructor(private readonly kv: Deno.Kv) {}

  /**
   * Adds to a recording atomic an execution it records: its id goes in the
   * commit's inbox entry for the tenant (one entry per commit and tenant,
   * whatever the parts the batch was made of).
   */
  inbox(
    add: { collect(prefix: Deno.KvKey, item: string): unknown },
    tenant: string,
    id: string,
  ): void {
    add.collect(this.#inboxes.get(tenant), id);
  }

  /** The versionstamp of the tenant's last recording commit (null: none). */
  async #horizon(tenant: string): Promise<string | null> {
    return (await this.kv.get(keys.executionCount(tenant, "recorded")))
      .versionstamp;
  }

  /**
   * Where the log ends now, for a stream that starts there, and the id of
   * the last execution before it (null: none), the Last-Event-ID that
   * resumes there.
   */
  async end(
    tenant: string,
  ): Promise<{ position: LogPosition; lastId: string | null }> {
    const horizon = await this.#horizon(tenant);
    if (horizon === null) return { position: LOG_START, lastId: null };
    let last: LogPosition | null = null;
    let lastId: string | null = null;
    const consider = (versionstamp: string, ids: string[]) => {
      for (const id of ids) {
        const p = positionOf(versionstamp, id);
        if (last === null || p > last) {
          last = p;
          lastId = id;
        }
      }
    };
    for (const e of await this.#inbox(tenant)) {
      if (e.versionstamp <= horizon) consider(e.versionstamp, e.ids);
    }
    const [logged] = await Array.fromAsync(this.kv.list({
      start: keys.executionLogEntries(tenant),
      end: [...keys.executionLogEntries(tenant), horizon + "\u0000"],
    }, { reverse: true, limit: 1 }));
    if (logged) consider(logged.key[2] as string, idsOf(logged));
    return { position: endOf(horizon), lastId };
  }

  /**
   * The position right after an execution, for a stream resumed with its
   * id. An execution that is no longer kept stands for where the first
   * execution with a larger id was committed; an id after every execution,
   * for the end of the log.
   */
  async after(tenant: string, id: string): Promise<LogPosition> {
    const record = await this.kv.get(keys.execution(tenant, id));
    if (record.versionstamp !== null) {
      return positionOf(record.versionstamp, id);
    }
    const prefix = keys.executions(tenant);
    const [next] = await Array.fromAsync(
      this.kv.list({ prefix, start: [...prefix, id + "\u0000"] }, {
        limit: 1,
      }),
    );
    if (next) return next.versionstamp;
    const horizon = await this.#horizon(tenant);
    return horizon === null ? LOG_START : endOf(horizon);
  }

  /**
   * Up to `limit` executions after `after`, in commit order (those no
   * longer kept are passed over).
   */
  async read(
    tenant: string,
    after: LogPosition,
    limit = 1000,
  ): Promise<LogPage> {
    const horizon = await this.#horizon(tenant);
    if (horizon === null || after >= endOf(horizon)) {
      return { entries: [], through: after, more: false };
    }
    const end = endOf(horizon);
    const found = new Map<string, LogPosition>();
    for (const e of await this.#inbox(tenant)) {
      if (e.versionstamp > horizon) continue;
      for (const id of e.ids) {
        const p = positionOf(e.versionstamp, id);
        if (p > after) found.set(id, p);
      }
    }
    // Log entries in commit order until they hold `limit` executions after
    // `after`: the first `limit` of what is found are then all before any
    // entry not listed, so nothing is passed over.
    const prefix = keys.executionLogEntries(tenant);
    let counted = 0;
    let full = false;
    for await (
      const e of this.kv.list({
        start: [...prefix, ...startAfter(after)],
        end: [...prefix, horizon + "\u0000"],
      }, { batchSize: Math.min(limit, 100) })
    ) {
      const versionstamp = e.key[2] as string;
      for (const id of idsOf(e)) {
        const p = positionOf(versionstamp, id);
        if (p <= after) continue;
        found.set(id, p);
        counted++;
      }
      if (counted >= limit) {
        full = true;
        break;
      }
    }
    const sorted = [...found].sort((a, b) => a[1] < b[1] ? -1 : 1);
    const more = full || sorted.length > limit;
    const taken = sorted.slice(0, limit);
    const records = await this.#records(tenant, taken.map(([id]) => id));
    return {
      entries: taken.flatMap(([id, position]) => {
        const execution = records.get(id);
        return execution ? [{ position, execution }] : [];
      }),
      through: more ? taken[taken.length - 1][1] : end,
      more,
    };
  }

  /**
   * Moves inbox entries the caller committed (it knows their versionstamp
   * and ids) into the tenant's log, without reading them: each is checked
   * to be still in the inbox with that versionstamp. Should one be gone
   * (moved by another process, or removed with its records by the
   * sweeper), what is left of the inbox is moved by `settle` instead,
   * which reads it.
   */
  async move(tenant: string, entries: Recorded[]): Promise<void> {
    let i = 0;
    while (i < entries.length) {
      const op = this.kv.atomic();
      let ids = 0;
      for (
        let n = 0;
        i < entries.length && n < MOVE_BATCH &&
        (n === 0 || ids + entries[i].ids.length <= MOVE_IDS);
        n++, i++
      ) {
        const e = entries[i];
        ids += e.ids.length;
        const inbox = keys.executionInbox(tenant, e.ids);
        op.check({ key: inbox, versionstamp: e.versionstamp })
          .set(keys.executionLogEntry(tenant, e.versionstamp), e.ids)
          .delete(inbox);
      }
      if (!(await op.commit()).ok) {
        await this.settle(tenant);
        return;
      }
    }
  }

  /**
   * Moves the tenant's inbox entries into its log. Returns whether the
   * inbox was emptied of what it held when called (false: the tenant
   * records faster than this moves, or moves kept failing).
   */
  async settle(tenant: string): Promise<boolean> {
    const swept = keys.executionCount(tenant, "swept");
    for (let round = 0; round < SETTLE_ROUNDS; round++) {
      // Checked: records the retention sweeper removes meanwhile (with
      // their inbox entry) must not come back in the log.
      const sweeps = await this.kv.get(swept);
      const inbox = await Array.fromAsync(
        this.kv.list({ prefix: keys.executionInboxes(tenant) }, {
          limit: SETTLE_BATCH,
          batchSize: SETTLE_BATCH,
        }),
      );
      if (inbox.length === 0) return true;
      const op = this.kv.atomic().check(sweeps);
      let ids = 0;
      let taken = 0;
      for (const e of inbox) {
        const list = idsOf(e);
        if (taken > 0 && ids + list.length > MOVE_IDS) break;
        ids += list.length;
        taken++;
        // An earlier version's entry of one execution goes to a log entry
        // of its own (entries of one commit may be moved in two rounds).
        const entry = keys.executionLogEntry(tenant, e.versionstamp);
        if (legacy(e)) op.set([...entry, list[0]], 1);
        else op.set(entry, list);
        op.delete(e.key);
      }
      if (
        (await op.commit()).ok && taken === inbox.length &&
        inbox.length < SETTLE_BATCH
      ) return true;
    }
    return false;
  }

  /**
   * Adds to a sweep's atomic what removes from the log the records it
   * deletes: `doomed`, each with its record's versionstamp, the tenant's
   * records in id order up to `through` (the last of them), every record
   * kept before it gone already. A log entry of those commits is written
   * again with the ids after `through` (removed when none is left), an
   * inbox entry removed when all its ids are gone (otherwise left to be
   * moved with them: later sweeps take them out of the log); the log entry
   * of one execution an earlier version wrote is removed too. Each entry
   * touched is checked, so a move meanwhile fails the sweep's atomic
   * rather than bring the records back.
   */
  async forget(
    batch: {
      check(c: Deno.AtomicCheck): unknown;
      set(key: Deno.KvKey, value: unknown): unknown;
      delete(key: Deno.KvKey): unknown;
    },
    tenant: string,
    doomed: { key: Deno.KvKey; versionstamp: string }[],
    through: string,
  ): Promise<void> {
    const stamps = new Set(doomed.map((d) => d.versionstamp));
    for (const d of doomed) {
      // The log entry of one execution an earlier version wrote, if any.
      batch.delete([
        ...keys.executionLogEntry(tenant, d.versionstamp),
        d.key[d.key.length - 1],
      ]);
    }
    const logKeys = [...stamps].map((v) => keys.executionLogEntry(tenant, v));
    const groups: Deno.KvKey[][] = [];
    for (let i = 0; i < logKeys.length; i += 10) {
      groups.push(logKeys.slice(i, i + 10));
    }
    const logged = (await Promise.all(groups.map((g) => this.kv.getMany(g))))
      .flat();
    for (const e of logged) {
      if (e.versionstamp === null) continue;
      const left = idsOf(e).filter((id) => id > through);
      batch.check(e);
      if (left.length > 0) batch.set(e.key, left);
      else batch.delete(e.key);
    }
    const inbox = this.kv.list({ prefix: keys.executionInboxes(tenant) }, {
      limit: INBOX_READ,
      batchSize: 500,
    });
    for await (const e of inbox) {
      if (!stamps.has(e.versionstamp)) continue;
      if (idsOf(e).every((id) => id <= through)) {
        batch.check(e);
        batch.delete(e.key);
      }
    }
  }

  /**
   * The tenant's inbox, read after its horizon: all of it, or nothing once
   * everything in it is moved to the log (when it holds more than a read
   * takes as it is).
   */
  async #inbox(tenant: string): Promise<Recorded[]> {
    const inbox = await Array.fromAsync(
      this.kv.list({ prefix: keys.executionInboxes(tenant) }, {
        limit: INBOX_READ,
        batchSize: 500,
      }),
    );
    let ids = 0;
    const out = inbox.map((e) => {
      const list = idsOf(e);
      ids += list.length;
      return { versionstamp: e.versionstamp, ids: list };
    });
    if (inbox.length < INBOX_READ && ids < INBOX_READ) return out;
    if (await this.settle(tenant)) return [];
    throw new Error(
      `The executions of tenant "${tenant}" are recorded faster than they can be moved to its log`,
    );
  }

  /** Executions by id (those no longer kept are absent). */
  async #records(
    tenant: string,
    ids: string[],
  ): Promise<Map<string, Execution>> {
    const out = new Map<string, Execution>();
    if (ids.length === 0) return out;
    // Mostly one range of ids (one recording process): one list.
    const sorted = [...ids].sort();
    const prefix = keys.executions(tenant);
    const wanted = new Set(ids);
    for await (
      const e of this.kv.list({
        start: [...prefix, sorted[0]],
        end: [...prefix, sorted[sorted.length - 1] + "\u0000"],
      }, { limit: ids.length * 2, batchSize: Math.min(ids.length * 2, 500) })
    ) {
      // The key's id: a record not wanted is not decoded.
      if (wanted.has(e.key[2] as string)) {
        const exec = executionOf(e.value);
        out.set(exec.id, exec);
      }
    }
    const rest = ids.filter((id) => !out.has(id));
    const groups: string[][] = [];
    for (let i = 0; i < rest.length; i += 10) {
      groups.push(rest.slice(i, i + 10));
    }
    for (
      const entries of await Promise.all(
        groups.map((g) =>
          this.kv.getMany(g.map((id) => keys.execution(tenant, id)))
        ),
      )
    ) {
      for (const e of entries) {
        if (e.value === null) continue;
        const exec = executionOf(e.value);
        out.set(exec.id, exec);
      }
    }
    return out;
  }
}

/**
 * The key parts after the log's prefix where a read after `p` starts: the
 * entry of its commit (ids in it up to `p` are passed over), or the next
 * commit's when `p` is after all of its commit.
 */
function startAfter(p: LogPosition): Deno.KvKey {
  if (p === LOG_START) return [];
  const versionstamp = p.slice(0, 20);
  return p.slice(20) === "~" ? [versionstamp + "\u0000"] : [versionstamp];
}
