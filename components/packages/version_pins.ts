/**
 * How many queued events pin each package version. An event is run with
 * the version it was accepted under (`EventItem.version`), so a version
 * some event in a queue still needs (waiting, in flight, waiting for a
 * retry, or a dead letter that may be replayed) must not be removed.
 *
 * A KvU64 counter per version counts them, changed in the very atomics that
 * add and remove items: +1 per item appended (listener, chained results),
 * -1 per item acknowledged or purged. Moves between states (lease, retry,
 * dead letter, replay) leave it alone. Sums never conflict, so the hot
 * paths pay one mutation per version per commit and no check; the
 * retention sweeper reads a counter, removes a version only when it is
 * zero, and checks in the same atomic that it did not change.
 *
 * Items queued before the counters existed were not counted: acknowledging
 * them takes the counter below zero, which reads as pinned (kept), never as
 * free.
 */
import { SameKeys, type WriteBatch } from "@jobico/goico";
import { keys } from "../model/keys.ts";
import type { EventItem } from "../model/event_item.ts";

const U64 = 1n << 64n;

/** Pin keys by "tenant\0package\0version": the same key array for the same version (see group_commit.ts). */
const pinKeys = new SameKeys((k) => {
  const [tenant, pkg, version] = k.split("\u0000");
  return keys.versionPin(tenant, pkg, Number(version));
});

/** Pin changes gathered over items, one sum per version. */
export class PinDeltas {
  readonly #deltas = new Map<string, { key: Deno.KvKey; n: number }>();

  /** Adds `n` pins (negative to release) of the version `item` was accepted under. */
  add(item: EventItem, n: number): this {
    if (n === 0) return this;
    const k = `${item.tenant}\u0000${item.package}\u0000${item.version}`;
    const d = this.#deltas.get(k);
    if (d) d.n += n;
    else {
      this.#deltas.set(k, { key: pinKeys.get(k), n });
    }
    return this;
  }

  /** The sums to write (versions whose changes cancel out are left out). */
  sums(): [Deno.KvKey, bigint][] {
    const out: [Deno.KvKey, bigint][] = [];
    for (const { key, n } of this.#deltas.values()) {
      if (n !== 0) out.push([key, n > 0 ? BigInt(n) : U64 + BigInt(n)]);
    }
    return out;
  }

  /** Adds the sums to a batch (which merges them with its other sums of the same keys). */
  write(batch: WriteBatch): WriteBatch {
    for (const [key, n] of this.sums()) batch.sum(key, n);
    return batch;
  }
}

/** A pin counter's value: 0 when absent; below 0 reads as pinned too. */
export function pinCount(entry: Deno.KvEntryMaybe<Deno.KvU64>): number {
  return Number(BigInt.asIntN(64, entry.value?.value ?? 0n));
}
