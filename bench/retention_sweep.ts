/**
 * The retention sweeper's rate, on a SQLite KV file as the platform keeps
 * it: executions removed per second by its passes (bounded passes, atomics
 * of 200 records, each with its keys in the tenant's execution log, each
 * atomic checking the lease and the counter), against a baseline in
 * the same run that removes the same number of records with bare atomics of
 * 500 deletions and nothing else; and what an idle pass over many tenants
 * costs (it reads, and writes nothing).
 *
 * Run: deno run -A bench/retention_sweep.ts [records] [tenants]
 */
import { monotonicIdFactory, WriteBatch } from "@jobico/goico";
import { createPlatform } from "../components/platform.ts";
import type { Execution } from "../components/executions/execution.ts";
import { RetentionSweeper } from "../components/retention/retention_sweeper.ts";

const RECORDS = Number(Deno.args[0] ?? 50_000);
const TENANTS = Number(Deno.args[1] ?? 1_000);
const DAY = 24 * 3600 * 1000;

const dir = await Deno.makeTempDir({ prefix: "jobico-bench-sweep-" });
const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
const ctrl = new AbortController();
const p = createPlatform({
  kv,
  adminToken: "bench-admin-token-0123456789",
  components: ["ctl"],
  sweepIntervalMs: 0,
}, ctrl.signal);

/** Records `n` executions of `tenant`, 8 days old, ~600 bytes each. */
async function fill(tenant: string, n: number): Promise<void> {
  const idAt = monotonicIdFactory(() => Date.now() - 8 * DAY);
  for (let i = 0; i < n; i += 300) {
    const part = Array.from({ length: Math.min(300, n - i) }, () => {
      const e: Execution = {
        id: idAt(),
        eventId: "0000000000000000000",
        tenant,
        package: "bench",
        event: "ping",
        queue: "pings",
        status: "ok",
        code: 0,
        result: JSON.stringify({ n: 1, name: "Ada", pad: "x".repeat(300) }),
        error: null,
        logs: [{ level: "info", source: "module", message: "hello" }],
        attempt: 1,
        startedAt: new Date().toISOString(),
        durationMs: 1,
      };
      return p.executions.fit(e);
    });
    await p.executions.recordAll(new WriteBatch(kv), part).commit();
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// Baseline: bare deletions of the same records, 500 per atomic.
async function baseline(): Promise<number> {
  await fill("base", RECORDS);
  return await timed(async () => {
    for (;;) {
      const keys = (await Array.fromAsync(
        kv.list({ prefix: ["exec", "base"] }, { limit: 500, batchSize: 100 }),
      )).map((e) => e.key);
      if (keys.length === 0) break;
      const op = kv.atomic();
      for (const k of keys) op.delete(k);
      await op.commit();
    }
  });
}

// The sweeper: the same records, default retention (7 days), passes of
// 20,000 one after the other.
await p.tenants.create("bench");
const sweeper = new RetentionSweeper({
  kv,
  executions: p.executions,
  ledger: p.ledger,
  policies: p.policies,
  holder: "bench",
});
let passes = 0;
async function sweep(): Promise<number> {
  await fill("bench", RECORDS);
  passes = 0;
  return await timed(async () => {
    for (;;) {
      const r = await sweeper.pass();
      passes++;
      if (!r || r.complete) break;
    }
  });
}

// Interleaved, three of each: the median of each.
const baseRuns: number[] = [];
const sweepRuns: number[] = [];
for (let i = 0; i < 3; i++) {
  baseRuns.push(await baseline());
  sweepRuns.push(await sweep());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
const baseMs = median(baseRuns);
const sweepMs = median(sweepRuns);

// An idle pass over many tenants, each with files and a few executions.
for (let t = 0; t < TENANTS; t++) {
  const id = `t${t}`;
  await p.tenants.create(id);
  await p.repo.put(id, "a.json", new TextEncoder().encode(`{"title":"${id}"}`));
}
await sweeper.pass(); // counts nothing new, removes nothing
const idleMs = await timed(async () => {
  await sweeper.pass();
});

const rate = (ms: number) => Math.round(RECORDS / (ms / 1000));
console.log(JSON.stringify(
  {
    records: RECORDS,
    baseline: { ms: Math.round(baseMs), perSecond: rate(baseMs) },
    sweeper: { ms: Math.round(sweepMs), perSecond: rate(sweepMs), passes },
    ratio: Math.round((sweepMs / baseMs) * 100) / 100,
    idlePass: { tenants: TENANTS + 1, ms: Math.round(idleMs) },
  },
  null,
  2,
));
ctrl.abort();
kv.close();
await Deno.remove(dir, { recursive: true });
