/**
 * The durable queue's hot paths on an in-memory KV (the storage engine's
 * own cost is left out: what is measured is the queue's work around it):
 * appending 1 and 100 items in one atomic write, and leasing a lane's 64
 * items and acknowledging them in one write. The same appends on a SQLite
 * file (as the platform stores them) show the storage's own cost: one
 * commit (an fsync) per append, and what 100 items per commit allow.
 *
 * Run: deno bench --allow-read --allow-write bench/durable_queue_bench.ts
 */
import {
  DurableQueue,
  jsonRecords,
  monotonicId,
  WriteBatch,
} from "@jobico/goico";

const kv = await Deno.openKv(":memory:");
const dir = await Deno.makeTempDir({ prefix: "jobico-bench-kv-" });
const fileKv = await Deno.openKv(`${dir}/kv.sqlite3`);
const fq = new DurableQueue<{ data: unknown }>(fileKv, ["bq"]);
globalThis.addEventListener("unload", () => {
  fileKv.close();
  Deno.removeSync(dir, { recursive: true });
});
const q = new DurableQueue<{ data: unknown }>(kv, ["bq"]);
const item = () => ({
  id: monotonicId(),
  value: { data: { n: 1, name: "Ada" } },
});

Deno.bench(
  "append 1 item + commit",
  { group: "append", baseline: true },
  async () => {
    await q.append(new WriteBatch(kv), "a", [item()]).commit();
  },
);

Deno.bench("append 100 items + commit", { group: "append" }, async () => {
  await q.append(new WriteBatch(kv), "b", Array.from({ length: 100 }, item))
    .commit();
});

Deno.bench("lease 64 + ack 64 (one commit)", async (b) => {
  await q.append(new WriteBatch(kv), "c", Array.from({ length: 64 }, item))
    .commit();
  b.start();
  const leased = await q.lease("c", 64);
  const op = new WriteBatch(kv);
  for (const it of leased) q.ack(op, it);
  await op.commit();
  b.end();
});

Deno.bench("SQLite file: append 1 item + commit", {
  group: "append on a file",
  baseline: true,
}, async () => {
  await fq.append(new WriteBatch(fileKv), "a", [item()]).commit();
});

Deno.bench("SQLite file: append 100 items + commit", {
  group: "append on a file",
}, async () => {
  await fq.append(
    new WriteBatch(fileKv),
    "b",
    Array.from({ length: 100 }, item),
  )
    .commit();
});

// What an executor lane's lease adds to its commit, without the commit:
// 100 entries read with `head` (JSON records, as the platform stores
// them), leased into a new batch each iteration.
const jq = new DurableQueue<{ data: unknown }>(kv, ["bj"], {
  codec: jsonRecords,
});
await jq.append(
  new WriteBatch(kv),
  "lease",
  Array.from({ length: 100 }, () => ({
    id: monotonicId(),
    value: {
      data: {
        tenant: "acme",
        package: "shop",
        version: "3",
        event: "order-placed",
        order: { id: 1234, items: ["a", "b", "c"], total: 99.5 },
        customer: "Ada Lovelace",
      },
    },
  })),
).commit();
const heads = await jq.head("lease", 100);
Deno.bench(
  "leaseInto 100 entries (JSON records; the batch built, not committed)",
  () => {
    jq.leaseInto(new WriteBatch(kv), heads);
  },
);
