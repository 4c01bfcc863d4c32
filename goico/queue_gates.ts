/**
 * Concurrency gates of a `DurableQueue`: a gate is a name and a limit, and
 * at most `limit` items that hold a gate are in flight at once, across
 * every consumer of the store. A gate is a KvU64 counter in the store
 * (`[...prefix, "gate", name]`): leasing an item adds one to each of its
 * gates in the atomic that leases it, with a check that each counter is
 * still what the consumer read (so two consumers cannot both take the last
 * slot); every way an item leaves flight (ack, retry, dead letter, discard,
 * release, and an expired lease put back) takes one off in the atomic that
 * moves it. A consumer that dies holding items thus gives their slots back
 * when their lease expires, with the items.
 *
 * `pickGated` chooses, of the entries read at a queue's head, those that
 * may be leased now, in order: an item waits when one of its gates is
 * full, and so does every later item that holds that gate, so the items
 * of a gate leave the queue in their order (first in, first out per gate)
 * while items of other gates go by.
 */
import type { QueuedItem } from "./queue_records.ts";

/** A gate an item must pass to be leased: at most `limit` holders in flight at once. */
export interface Gate {
  /** Names the counter (at most MAX_GATE_NAME characters). */
  name: string;
  /** Holders at once, at least 1. */
  limit: number;
}

/** What leasing one item with gates adds: the counters to check and raise. */
export interface GateHold {
  names: string[];
  checks: Deno.AtomicCheck[];
}

/** How many hold a gate now, and the counter's versionstamp (null: never held). */
export interface GateCount {
  held: number;
  versionstamp: string | null;
}

/** Of entries read at a queue's head, what may be leased now. */
export interface GatedPick<T> {
  /** The entries to lease, in order. */
  take: Deno.KvEntry<QueuedItem<T>>[];
  /** The gates each entry taken holds (entries without gates are absent). */
  holds: Map<Deno.KvEntry<QueuedItem<T>>, GateHold>;
  /** Entries that wait for a gate. */
  blocked: number;
  /** Of them, how many wait for each full gate. */
  waiting: Map<string, number>;
}

/** The longest gate name: a KV key holds 2 KiB. */
export const MAX_GATE_NAME = 1_024;

/** Reads gate counters: `kv.getMany` takes 10 keys a read. */
export async function readGates(
  kv: Deno.Kv,
  keyOf: (name: string) => Deno.KvKey,
  names: Iterable<string>,
): Promise<Map<string, GateCount>> {
  const list = [...new Set(names)];
  const reads: Promise<Deno.KvEntryMaybe<Deno.KvU64>[]>[] = [];
  for (let i = 0; i < list.length; i += 10) {
    reads.push(kv.getMany<Deno.KvU64[]>(list.slice(i, i + 10).map(keyOf)));
  }
  const out = new Map<string, GateCount>();
  (await Promise.all(reads)).flat().forEach((e, i) => {
    // Sums wrap: a counter taken below zero (never, if every release
    // matches a lease) reads as 0 rather than as 2^64 holders.
    const held = Number(BigInt.asIntN(64, e.value?.value ?? 0n));
    out.set(list[i], { held: Math.max(0, held), versionstamp: e.versionstamp });
  });
  return out;
}

/**
 * Chooses, in order, the entries that may be leased under their gates
 * (`gatesOf`), at most `max`; the counters are read once. An entry waits
 * when a gate of its is full (its holders and those taken before it in
 * this pick reach its limit) or was full for an entry before it.
 */
export async function pickGated<T>(
  kv: Deno.Kv,
  keyOf: (name: string) => Deno.KvKey,
  entries: Deno.KvEntry<QueuedItem<T>>[],
  gatesOf: (item: QueuedItem<T>) => readonly Gate[],
  max: number,
): Promise<GatedPick<T>> {
  const gates = entries.map((e) => gatesOf(e.value));
  for (const list of gates) {
    for (const g of list) {
      if (g.name.length > MAX_GATE_NAME) {
        throw new RangeError(
          `Gate name of ${g.name.length} characters: at most ${MAX_GATE_NAME}`,
        );
      }
      if (!Number.isSafeInteger(g.limit) || g.limit < 1) {
        throw new RangeError(
          `Invalid limit ${g.limit} of gate "${
            g.name.slice(0, 80)
          }": use a whole number of at least 1`,
        );
      }
    }
  }
  const counts = await readGates(
    kv,
    keyOf,
    gates.flatMap((list) => list.map((g) => g.name)),
  );
  const full = new Set<string>();
  const taken = new Map<string, number>();
  const pick: GatedPick<T> = {
    take: [],
    holds: new Map(),
    blocked: 0,
    waiting: new Map(),
  };
  entries.forEach((e, i) => {
    if (pick.take.length >= max) return;
    const list = gates[i];
    let wait: string | undefined;
    for (const g of list) {
      const held = counts.get(g.name)!.held + (taken.get(g.name) ?? 0);
      if (full.has(g.name) || held >= g.limit) {
        full.add(g.name);
        wait ??= g.name;
      }
    }
    if (wait !== undefined) {
      pick.blocked++;
      pick.waiting.set(wait, (pick.waiting.get(wait) ?? 0) + 1);
      return;
    }
    pick.take.push(e);
    if (list.length === 0) return;
    const names = [...new Set(list.map((g) => g.name))];
    for (const n of names) taken.set(n, (taken.get(n) ?? 0) + 1);
    pick.holds.set(e, {
      names,
      checks: names.map((n) => ({
        key: keyOf(n),
        versionstamp: counts.get(n)!.versionstamp,
      })),
    });
  });
  return pick;
}

/** A gate held now, as `listGates` finds it. */
export interface HeldGate {
  name: string;
  held: number;
}

/**
 * The gates whose names start with `prefix` that are held now (a counter
 * back at 0 is skipped), in name order: at most `max` of them, of the
 * first `scan` counters (released counters stay in the store at 0).
 * `truncated` says there may be more.
 */
export async function listGates(
  kv: Deno.Kv,
  keyOf: (name: string) => Deno.KvKey,
  prefix: string,
  options: { max?: number; scan?: number } = {},
): Promise<{ gates: HeldGate[]; truncated: boolean }> {
  const max = options.max ?? 100;
  const scan = options.scan ?? 1_000;
  const gates: HeldGate[] = [];
  let seen = 0;
  const iter = kv.list<Deno.KvU64>({
    start: keyOf(prefix),
    // Past every name that starts with the prefix (U+10FFFF sorts last).
    end: keyOf(prefix + "\u{10FFFF}"),
  }, { limit: scan + 1 });
  for await (const e of iter) {
    if (++seen > scan) return { gates, truncated: true };
    const name = e.key[e.key.length - 1] as string;
    const held = Math.max(0, Number(BigInt.asIntN(64, e.value.value)));
    if (held === 0) continue;
    if (gates.length >= max) return { gates, truncated: true };
    gates.push({ name, held });
  }
  return { gates, truncated: false };
}
