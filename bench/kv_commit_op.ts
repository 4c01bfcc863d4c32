/**
 * What Deno KV's commit costs the calling thread before it waits: the
 * synchronous part of `atomic().commit()` (the `op_kv_atomic_write` call
 * that converts the checks and mutations for the SQLite thread), per commit
 * and per mutation, against the whole commit's wall time. A SQLite file in
 * a temporary directory (a tmpfs when /dev/shm takes one).
 *
 * The last two rows split the commit op's fixed part: a one-set commit
 * made while the SQLite thread waits for work (the op wakes it) against
 * one made right after another (the thread is busy with the first).
 *
 *   deno run -A bench/kv_commit_op.ts [commits per case, default 2000]
 */

import { makeScratchDir } from "./_data_dir.ts";

interface Case {
  label: string;
  sets: number;
  sums: number;
  value: (i: number) => unknown;
}

const BYTES = new Uint8Array(300).fill(65);

const CASES: Case[] = [
  { label: "1 set (300 bytes)", sets: 1, sums: 0, value: () => BYTES },
  { label: "10 sets (300 bytes)", sets: 10, sums: 0, value: () => BYTES },
  { label: "10 sets and 3 sums", sets: 10, sums: 3, value: () => BYTES },
  { label: "3 sums", sets: 0, sums: 3, value: () => BYTES },
  {
    label: "10 sets of an object (V8 value)",
    sets: 10,
    sums: 0,
    value: () => ({ a: "x".repeat(200), b: 1, c: [1, 2] }),
  },
];

/** µs per commit: the synchronous part and the whole. */
export async function commitOpCost(
  kv: Deno.Kv,
  c: Case,
  commits: number,
): Promise<{ syncUs: number; totalUs: number }> {
  let sync = 0;
  const t0 = performance.now();
  for (let i = 0; i < commits; i++) {
    const op = kv.atomic();
    for (let j = 0; j < c.sets; j++) {
      op.set(
        ["q", "ready", "tenant/queue", `${i}-${j}-0mx7xl46b0000`],
        c.value(j),
      );
    }
    for (let j = 0; j < c.sums; j++) op.sum(["q", "count", `c${j}`], 1n);
    const t = performance.now();
    const p = op.commit();
    sync += performance.now() - t;
    await p;
  }
  const total = performance.now() - t0;
  return {
    syncUs: Math.round(sync * 10_000 / commits) / 10,
    totalUs: Math.round(total * 10_000 / commits) / 10,
  };
}

/**
 * µs of the calling thread per one-set commit: made while the SQLite
 * thread waits (woken by the op), and made right after another commit.
 */
export async function commitWakeCost(
  kv: Deno.Kv,
  commits: number,
): Promise<{ idleUs: number; busyUs: number }> {
  let idle = 0;
  let busy = 0;
  for (let i = 0; i < commits; i++) {
    const a = kv.atomic().set(["wake", "a", i], BYTES);
    const b = kv.atomic().set(["wake", "b", i], BYTES);
    let t = performance.now();
    const first = a.commit();
    idle += performance.now() - t;
    t = performance.now();
    const second = b.commit();
    busy += performance.now() - t;
    await Promise.all([first, second]);
  }
  const us = (ms: number) => Math.round(ms * 10_000 / commits) / 10;
  return { idleUs: us(idle), busyUs: us(busy) };
}

if (import.meta.main) {
  const commits = Number(Deno.args[0] ?? 2000);
  const dir = await makeScratchDir();
  const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
  try {
    console.log("| case | sync µs / commit | whole µs / commit |");
    console.log("| --- | ---: | ---: |");
    for (const c of CASES) {
      const r = await commitOpCost(kv, c, commits);
      console.log(`| ${c.label} | ${r.syncUs} | ${r.totalUs} |`);
    }
    const w = await commitWakeCost(kv, commits);
    console.log(`| 1 set, the SQLite thread waiting | ${w.idleUs} | - |`);
    console.log(`| 1 set, right after another commit | ${w.busyUs} | - |`);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}
