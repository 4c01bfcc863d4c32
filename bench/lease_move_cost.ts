/**
 * What moving leased items costs a drain, measured on Deno KV alone: the
 * question a queue layout with leases "in place" would answer.
 *
 * goico's queue moves an item when it is leased (ready -> inflight: a
 * delete and a set) and removes it when its outcome is recorded (a
 * delete), so an executor lane's commit of 100 outcomes that also leases
 * the next 100 (components/executor/_lane.ts) holds about 400 mutations
 * besides the counters. A layout that leaves leased items where they wait
 * and writes one lease record per batch instead would hold about 200. This
 * script drains a queue of `batches` x 100 JSON records both ways, one
 * batch after the other, each batch a head read of 100 and one atomic (the
 * previous batch's outcomes, about 450-byte execution records, and the
 * next batch's lease), and reports per batch: the whole, the head read,
 * and the commit op's synchronous part on this thread. Both ways on a
 * temporary directory on disk and on a tmpfs (/dev/shm), alternated.
 *
 * It leaves out everything the queue keeps besides (epochs, bands, the
 * execution log, change signals) and the executor's own work: it bounds
 * what the layout could save, it does not predict a lane's rate.
 *
 *   deno run -A --unstable-kv bench/lease_move_cost.ts [--batches=200] [--rounds=2]
 */
import { parseArgs } from "node:util";
import { makeScratchDir } from "./_data_dir.ts";
import { median } from "./_median.ts";

export type LeaseLayout = "move" | "in place";

export interface LeaseMoveCost {
  /** ms per batch of 100: head read, build, commit. */
  batchMs: number;
  /** ms per batch: the head read. */
  readMs: number;
  /** ms per batch: the commit op's synchronous part (this thread). */
  syncMs: number;
  /** Mutations in one batch's atomic. */
  mutations: number;
}

const BATCH = 100;
const QUEUE = "bench/ping";
const encoder = new TextEncoder();

const id = (i: number) => String(i).padStart(12, "0");

/** A queued item's record, as jsonRecords stores it; `pad` bytes more for an execution record. */
function record(itemId: string, pad = 0): Uint8Array {
  return encoder.encode(JSON.stringify({
    id: itemId,
    queue: QUEUE,
    value: {
      tenant: "bench",
      event: "ping",
      data: { n: 1, name: "Ada" },
      version: "1",
    },
    attempt: 1,
    failures: 0,
    enqueuedAt: 1_764_800_000_000,
    ...(pad > 0 && { result: "x".repeat(pad) }),
  }));
}

const ready = (i: string): Deno.KvKey => ["q", "ready", QUEUE, 1, i];
const inflight = (i: string): Deno.KvKey => ["q", "inflight", QUEUE, i];

/** Drains `batches` batches of a fresh queue in `dir` with `layout`. */
export async function drainCost(
  dir: string,
  layout: LeaseLayout,
  batches: number,
): Promise<LeaseMoveCost> {
  const path = await Deno.makeTempDir({ dir, prefix: "jobico-lease-" });
  const kv = await Deno.openKv(`${path}/kv.sqlite3`);
  try {
    const total = (batches + 2) * BATCH;
    for (let i = 0; i < total; i += 500) {
      const op = kv.atomic();
      for (let j = i; j < Math.min(total, i + 500); j++) {
        op.set(ready(id(j)), record(id(j)));
      }
      await op.commit();
    }
    let leased: string[] = [];
    let from = 0;
    let whole = 0, read = 0, sync = 0, mutations = 0;
    // The first batch only leases: not counted.
    for (let b = 0; b <= batches; b++) {
      const t0 = performance.now();
      const head = await Array.fromAsync(
        kv.list({ start: ready(id(from)), end: ready("~") }, { limit: BATCH }),
      );
      const t1 = performance.now();
      const op = kv.atomic();
      let n = 0;
      for (const x of leased) {
        op.delete(layout === "move" ? inflight(x) : ready(x));
        op.set(["exec", "bench", x], record(x, 150));
        n += 2;
      }
      if (layout === "in place" && leased.length > 0) {
        op.delete(["q", "lease", QUEUE, leased[0]]);
        n++;
      }
      op.sum(["q", "done", QUEUE], BigInt(leased.length));
      op.sum(["exec", "recorded", "bench"], BigInt(leased.length));
      n += 2;
      const next = head.map((e) => e.key[4] as string);
      if (layout === "move") {
        for (const e of head) {
          op.delete(e.key);
          op.set(inflight(e.key[4] as string), e.value as Uint8Array);
          n += 2;
        }
      } else if (next.length > 0) {
        op.set(
          ["q", "lease", QUEUE, next[0]],
          encoder.encode(
            JSON.stringify({ ids: next, until: Date.now() + 4000 }),
          ),
        );
        n++;
      }
      const t2 = performance.now();
      const committing = op.commit();
      const t3 = performance.now();
      if (!(await committing).ok) {
        throw new Error("the drain's commit was refused");
      }
      const t4 = performance.now();
      if (b > 0) {
        whole += t4 - t0;
        read += t1 - t0;
        sync += t3 - t2;
        mutations = n;
      }
      leased = next;
      from += BATCH;
    }
    const r2 = (x: number) => Math.round(x * 100 / batches) / 100;
    return {
      batchMs: r2(whole),
      readMs: r2(read),
      syncMs: r2(sync),
      mutations,
    };
  } finally {
    kv.close();
    await Deno.remove(path, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      batches: { type: "string", default: "200" },
      rounds: { type: "string", default: "2" },
    },
  });
  const batches = Number(values.batches);
  const tmpfs = await makeScratchDir();
  const dirs = { disk: await Deno.makeTempDir(), tmpfs };
  const runs = new Map<string, LeaseMoveCost[]>();
  try {
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const [on, dir] of Object.entries(dirs)) {
        for (const layout of ["move", "in place"] as const) {
          const key = `${on}\t${layout}`;
          runs.set(key, [
            ...(runs.get(key) ?? []),
            await drainCost(dir, layout, batches),
          ]);
        }
      }
    }
  } finally {
    for (const dir of Object.values(dirs)) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
  console.log(
    "| data on | leases | mutations a batch | ms a batch of 100 | head read, ms | commit op on this thread, ms |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const [key, rs] of runs) {
    const [on, layout] = key.split("\t");
    const m = (f: (r: LeaseMoveCost) => number) => median(rs.map(f)).toFixed(2);
    console.log(
      `| ${on} | ${layout} | ${rs[0].mutations} | ${m((r) => r.batchMs)} | ${
        m((r) => r.readMs)
      } | ${m((r) => r.syncMs)} |`,
    );
  }
}
