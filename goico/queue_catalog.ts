/**
 * The queues of a `DurableQueue` under its prefix: which there are (every
 * queue that ever held an item keeps its counters; one that may hold items
 * has an active marker), what each holds (`backlog`, `stats`), and retiring
 * or dropping one.
 */

import { deletePrefixes } from "./delete_prefixes.ts";
import type { DelayedItems } from "./queue_delayed.ts";
import type { QueueKeys } from "./queue_keys.ts";
import type { QueueLedger } from "./queue_ledger.ts";
import type { InFlight, QueuedItem, QueueRecords } from "./queue_records.ts";
import { WriteBatch } from "./write_batch.ts";
import { WritePacker } from "./write_packer.ts";

/** What a queue holds and has done. */
export interface QueueStats {
  /** Items waiting to be leased, including those waiting for a retry. */
  depth: number;
  /** Items leased and being handled. */
  inFlight: number;
  /** Of `depth`, the items waiting for a retry. */
  delayed: number;
  /** Dead letters. */
  dead: number;
  /** Items acknowledged since the queue was created. */
  processed: number;
  /** Age of the oldest item waiting or in flight; 0 when there is none. */
  oldestAgeMs: number;
}

/** Lists, measures, retires and drops the queues under a prefix. */
export class QueueCatalog<T> {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly keys: QueueKeys<T>,
    private readonly records: QueueRecords,
    private readonly ledger: QueueLedger<T>,
    private readonly delayed: Pick<DelayedItems<T>, "of">,
    private readonly now: () => number,
  ) {}

  /** See `DurableQueue.backlog`. */
  async backlog(queue: string): Promise<number> {
    const [i, o] = await this.kv.getMany<Deno.KvU64[]>([
      this.keys.count(queue, "in"),
      this.keys.count(queue, "out"),
    ]);
    return Number(
      BigInt.asIntN(64, (i.value?.value ?? 0n) - (o.value?.value ?? 0n)),
    );
  }

  /** See `DurableQueue.queueNames`. */
  async queueNames(startsWith = ""): Promise<string[]> {
    const base = this.keys.all("count");
    const selector: Deno.KvListSelector = startsWith === ""
      ? { prefix: base }
      // Every string that starts with `startsWith` sorts between it and its
      // last character raised by one.
      : {
        start: [...base, startsWith],
        end: [
          ...base,
          startsWith.slice(0, -1) +
          String.fromCharCode(startsWith.charCodeAt(startsWith.length - 1) + 1),
        ],
      };
    const names = new Set<string>();
    for await (const e of this.kv.list(selector)) {
      names.add(e.key[this.keys.prefix.length + 1] as string);
    }
    return [...names];
  }

  /** See `DurableQueue.activity`. */
  async activity(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (const e of this.kv.list({ prefix: this.keys.all("active") })) {
      out.set(e.key[e.key.length - 1] as string, e.versionstamp);
    }
    return out;
  }

  /** See `DurableQueue.retireIfEmpty`. */
  async retireIfEmpty(queue: string): Promise<boolean> {
    const marker = await this.kv.get(this.keys.active(queue));
    for (const state of ["ready", "inflight"] as const) {
      const any = await Array.fromAsync(
        this.kv.list({ prefix: this.keys.of(state, queue) }, { limit: 1 }),
      );
      if (any.length > 0) return false;
    }
    const res = await new WriteBatch(this.kv).check(marker).delete(marker.key)
      .commit();
    return res.ok;
  }

  /** See `DurableQueue.drop`. */
  async drop(queue: string): Promise<number> {
    const at = this.keys.prefix.length;
    // Items in flight give their gates back as they go (their holders'
    // acknowledgements then find their leases gone).
    const gated = new WritePacker<string>(this.kv, async (batch) => {
      await batch.commit();
    });
    for await (
      const e of this.records.list<InFlight<T>>({
        prefix: this.keys.of("inflight", queue),
      })
    ) {
      if (!e.value.gates) continue;
      await gated.add(e.value.id, (part) => {
        part.check(e).delete(e.key);
        this.ledger.ungate(part, e.value);
      });
    }
    await gated.flush();
    const delayed = await deletePrefixes(
      this.kv,
      [this.keys.all("delayed")],
      (k) => k[at + 2] !== queue,
    );
    return delayed + await deletePrefixes(
      this.kv,
      // The epoch goes too: a consumer still holding an item of the queue
      // finds its lease gone when it acknowledges.
      ([
        "ready",
        "inflight",
        "dead",
        "count",
        "active",
        "epoch",
        "due",
      ] as const)
        .map((state) => this.keys.of(state, queue)),
    );
  }

  /** See `DurableQueue.stats`. */
  async stats(queue: string): Promise<QueueStats> {
    const now = this.now();
    // The four counters in one read: one snapshot of them (a dead letter
    // moves "out" and "dead" in one commit).
    const [counters, inflight, delayed, first] = await Promise.all([
      this.kv.getMany<Deno.KvU64[]>([
        this.keys.count(queue, "in"),
        this.keys.count(queue, "out"),
        this.keys.count(queue, "acked"),
        this.keys.count(queue, "dead"),
      ]),
      Array.fromAsync(
        this.records.list<InFlight<T>>({
          prefix: this.keys.of("inflight", queue),
        }),
      ),
      // This queue's delayed items only (see `DelayedItems.of`).
      this.delayed.of(queue),
      // The oldest of each band.
      Promise.all(
        [0, 1, 2].map((band) =>
          Array.fromAsync(
            this.records.list<QueuedItem<T>>(
              this.keys.readyBand(queue, band),
              { limit: 1 },
            ),
          )
        ),
      ).then((heads) => heads.flat()),
    ]);
    const count = (e: Deno.KvEntryMaybe<Deno.KvU64>) =>
      Number(BigInt.asIntN(64, e.value?.value ?? 0n));
    const backlog = Number(
      BigInt.asIntN(
        64,
        (counters[0].value?.value ?? 0n) - (counters[1].value?.value ?? 0n),
      ),
    );
    // A loop, not Math.min(...): a queue may hold more items than a call
    // takes arguments.
    let oldest = now;
    for (const e of [...inflight, ...delayed, ...first]) {
      if (e.value.enqueuedAt < oldest) oldest = e.value.enqueuedAt;
    }
    const inFlight = inflight.length;
    return {
      depth: Math.max(0, backlog - inFlight),
      inFlight,
      delayed: delayed.length,
      dead: count(counters[3]),
      processed: count(counters[2]),
      oldestAgeMs: now - oldest,
    };
  }
}
