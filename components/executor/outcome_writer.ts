/**
 * Stores the outcomes of executions: each outcome's writes (its execution
 * record, its chained result event, the acknowledgement, retry or dead
 * letter of its item, the pin count of its event's version) are made into
 * a `WriteBatch`, measured, so that whoever commits outcomes (a lane, with
 * the lease of its next items; `commit` here, on their own) packs as many
 * into one atomic as fit. The counters and change feeds outcomes share
 * merge within a batch.
 *
 * `commit` is what happens when outcomes cannot go with a lease: they are
 * committed in as few atomics as fit; a commit refused because a lease was
 * taken back drops the outcomes of the items delivered again and commits
 * the rest; one that can never be stored is recorded instead as a failed
 * execution saying why (its event goes to the dead letters).
 */
import {
  type DurableQueue,
  KvLimitError,
  type Logger,
  type QueuedItem,
  storeFailure,
  type StoreHealth,
  WriteBatch,
  WritePacker,
} from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import { PinDeltas } from "../packages/version_pins.ts";
import type { Execution } from "../executions/execution.ts";
import type {
  ExecutionStore,
  FittedExecution,
} from "../executions/execution_store.ts";
import type { ExecutionObserver } from "../observe/execution_observer.ts";
import {
  isUnstorable,
  pause,
  transient,
  TRANSIENT_TRIES,
} from "./_store_retry.ts";

/** What follows from one execution, ready to be stored. */
export interface Outcome {
  item: QueuedItem<EventItem>;
  exec: FittedExecution;
  /** The chained result event and the queue it goes to. */
  chained: { queue: string; item: EventItem } | null;
  /** What becomes of the item: done, again later, a dead letter, or dropped unrecorded. */
  next: { kind: "ack" } | { kind: "retry"; delayMs: number } | {
    kind: "dead";
  } | { kind: "drop" };
}

/** What an {@linkcode OutcomeWriter} writes to and tells. */
export interface OutcomeWriterOptions {
  kv: Deno.Kv;
  queue: DurableQueue<EventItem>;
  executions: ExecutionStore;
  logger: Logger;
  /** Told of each execution once recorded. */
  observer: ExecutionObserver;
  /** Told of store failures (a full disk). */
  storeHealth?: StoreHealth;
}

/** Characters of the reason a dead letter keeps. */
const MAX_LETTER_ERROR = 500;
/** Tries of a commit of outcomes refused because a lease check failed. */
const REFUSED_TRIES = 12;

export class OutcomeWriter {
  /** Outcomes recorded since start. */
  recordedCount = 0;

  constructor(private readonly o: OutcomeWriterOptions) {}

  /**
   * The writes that store an outcome, in a batch of their own.
   *
   * @throws {KvLimitError} when no atomic can hold them
   */
  part(d: Outcome): WriteBatch {
    return this.write(new WriteBatch(this.o.kv), d);
  }

  /**
   * Adds the writes that store an outcome to a batch: its record, chained
   * event and acknowledgement (or retry, or dead letter, or, dropped, only
   * the end of its lease), and its version's pin count.
   */
  write(batch: WriteBatch, d: Outcome): WriteBatch {
    const { queue, executions } = this.o;
    if (d.chained) {
      queue.append(batch, d.chained.queue, [{
        id: d.chained.item.eventId,
        value: d.chained.item,
      }]);
    }
    switch (d.next.kind) {
      case "drop":
        return queue.discard(batch, d.item);
      case "ack":
        queue.ack(batch, d.item);
        break;
      case "retry":
        queue.retry(batch, d.item, d.next.delayMs);
        break;
      case "dead": {
        // The letter holds the item as it was queued: its reason stays short.
        const { error, id } = d.exec.record;
        const why = (error ?? "failed").slice(0, MAX_LETTER_ERROR);
        queue.deadLetter(batch, d.item, why, id);
      }
    }
    executions.record(batch, d.exec);
    const pin = pinChange(d);
    if (pin !== 0) new PinDeltas().add(d.item.value, pin).write(batch);
    return batch;
  }

  /**
   * Outcomes whose commit succeeded: counted, told to the observer, and
   * their records' tenants to the execution store (which moves them to
   * the tenants' logs).
   */
  recorded(outcomes: Outcome[], versionstamp: string): void {
    this.recordedCount += outcomes.length;
    const records: Execution[] = [];
    for (const d of outcomes) {
      if (d.next.kind === "drop") continue;
      records.push(d.exec.record);
      this.o.observer.recorded(d.exec.record, d.item.value, d.next.kind);
    }
    this.o.executions.committed(records, versionstamp);
  }

  /** Whether an error is a store failure (reported when it is). */
  storeFailed(err: unknown): boolean {
    if (!storeFailure(err)) return false;
    this.o.storeHealth?.observe(err);
    return true;
  }

  /**
   * Commits outcomes on their own, in order, as many in one atomic as
   * their measures fit; an outcome no atomic can hold goes alone (and is
   * recorded as unstorable).
   */
  async commit(all: Outcome[]): Promise<void> {
    const packer = new WritePacker<Outcome>(
      this.o.kv,
      (_, some) => this.#commitOne(some),
    );
    for (const d of all) {
      try {
        await packer.add(d, (part) => this.write(part, d));
      } catch (err) {
        if (!(err instanceof KvLimitError)) throw err;
        await packer.flush();
        await this.#commitOne([d]);
      }
    }
    await packer.flush();
  }

  /**
   * Commits outcomes in one atomic. When it is refused, the queue's epoch
   * moved (a lease of the queue was taken back): the outcomes whose lease
   * is gone are dropped (their events were delivered again, and that
   * delivery records them) and the rest go again. When it throws, they go
   * one by one, and one that can never be stored becomes a failure with
   * the reason (`#commitUnstorable`).
   */
  async #commitOne(batch: Outcome[]): Promise<void> {
    const { queue, logger } = this.o;
    let refused = 0;
    let failed = 0;
    while (batch.length > 0) {
      let committed: Deno.KvCommitResult | undefined;
      let error: unknown;
      try {
        const op = new WriteBatch(this.o.kv);
        for (const d of batch) this.write(op, d);
        const res = await op.commit();
        if (res.ok) committed = res;
      } catch (err) {
        error = err;
      }
      if (committed) {
        this.recorded(batch, committed.versionstamp);
        return;
      }
      // Refused: an epoch moved. Leases are taken back in bursts (a
      // crashed process's, many in one atomic), so it may take a few
      // tries; after 5, pauses between them.
      if (error === undefined && refused < REFUSED_TRIES) {
        if (refused++ >= 5) await pause(refused - 5);
        const items = batch.map((d) => d.item);
        const lost = new Set(await transient(() => queue.confirm(items)));
        for (const d of batch.filter((d) => lost.has(d.item))) {
          logger.warn(
            "an outcome was not recorded: the event's lease was taken back and it was delivered again",
            { eventId: d.item.value.eventId, attempt: d.item.attempt },
          );
        }
        batch = batch.filter((d) => !lost.has(d.item));
        continue;
      }
      if (error !== undefined && this.storeFailed(error)) {
        // The disk is full or the store failing: committing them again, or
        // one by one, would fail the same way. Their leases lapse and they
        // run again once the store takes writes.
        return;
      }
      if (error !== undefined && isUnstorable(error)) {
        if (batch.length > 1) {
          for (const d of batch) await this.#commitOne([d]);
        } else await this.#commitUnstorable(batch[0], error);
        return;
      }
      // The store is busy or unreachable (SQLite's "database is locked"
      // when processes share a file): again after a pause, the leases
      // being renewed meanwhile.
      if (error !== undefined && failed < TRANSIENT_TRIES) {
        await pause(failed++);
        continue;
      }
      for (const d of batch) {
        logger.error(
          "recording an execution failed; the event will be delivered again",
          {
            eventId: d.item.value.eventId,
            ...(error !== undefined && { error: String(error) }),
          },
        );
      }
      return;
    }
  }

  /**
   * An outcome the store refuses whatever happens (a value or an atomic
   * over the KV's limits): recorded instead as a failed execution saying
   * why, without its chained event, and its event goes to the dead letters
   * (or, should even that not fit, is dropped with the record saying so),
   * rather than being delivered again forever.
   */
  async #commitUnstorable(d: Outcome, error: unknown): Promise<void> {
    const { executions, logger, queue } = this.o;
    const was = d.exec.record;
    const reason = `The outcome could not be stored: ${
      (error as Error).message
    } (status ${was.status}${was.code === null ? "" : `, code ${was.code}`})`;
    for (const next of ["dead", "ack"] as const) {
      const exec: Execution = {
        ...was,
        status: "failed",
        result: null,
        error: reason,
        logs: [{
          level: "error",
          source: "host",
          message: next === "dead"
            ? `Moved to the dead letters of queue "${was.queue}": its outcome can never be stored`
            : "Dropped: neither its outcome nor its dead letter can be stored",
        }],
      };
      const fallback: Outcome = {
        ...d,
        exec: executions.fit(exec),
        chained: null,
        next: { kind: next },
      };
      for (let refused = 0; refused < REFUSED_TRIES; refused++) {
        let committed: Deno.KvCommitResult | undefined;
        try {
          const res = await this.part(fallback).commit();
          if (res.ok) committed = res;
        } catch (err) {
          if (isUnstorable(err)) break; // the next, smaller fallback
          logger.error(
            "recording an execution failed; the event will be delivered again",
            { eventId: d.item.value.eventId, error: String(err) },
          );
          return;
        }
        if (committed) {
          logger.warn("an outcome could not be stored; recorded as failed", {
            eventId: d.item.value.eventId,
            error: String(error),
            then: next,
          });
          this.recorded([fallback], committed.versionstamp);
          return;
        }
        // Refused: an epoch moved; the lease may have been taken back.
        if ((await transient(() => queue.confirm([d.item]))).length > 0) {
          logger.warn(
            "an outcome was not recorded: the event's lease was taken back and it was delivered again",
            { eventId: d.item.value.eventId, attempt: d.item.attempt },
          );
          return;
        }
      }
    }
    logger.error(
      "recording an execution failed; the event will be delivered again",
      { eventId: d.item.value.eventId, error: String(error) },
    );
  }
}

/**
 * How an outcome changes the pins of its event's version: the item leaves
 * the queue when acknowledged (-1); a chained event, accepted under the
 * same version, comes in (+1); a retry or a dead letter keeps the item.
 */
export function pinChange(d: Pick<Outcome, "next" | "chained">): number {
  return (d.next.kind === "ack" ? -1 : 0) + (d.chained ? 1 : 0);
}
