import assert from "node:assert/strict";
import { createPlatform, type PlatformParts } from "../platform.ts";
import { TEST_ADMIN_TOKEN } from "../server/_test_platform.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { keys } from "../model/keys.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import { Scheduler, type SchedulerPass } from "./scheduler.ts";

const MINUTE = 60_000;
/** 2026-01-01T00:00:00Z */
const T0 = Date.UTC(2026, 0, 1);

function pkg(tenant: string, schedule: string): string {
  return `id: cron
tenant: ${tenant}
queues:
  - id: q
jobs:
  - event:
      id: tick
      schema: { id: s, schemaref: any.json }
      supplierqueue: q
      runtime: r
      schedule: ${schedule}
runtimes:
  - id: r
    moduleref: echo.wasm
`;
}

/**
 * Every scheduler looks (all at once) until none failed: two handles on
 * one SQLite file refuse each other's writes now and then ("database is
 * locked"), which a scheduler leaves for its next look. The passes, added.
 */
async function settle(schedulers: Scheduler[]): Promise<SchedulerPass> {
  const total = { sent: 0, taken: 0, skipped: 0, failed: 0 };
  for (let i = 0; i < 200; i++) {
    const passes = await Promise.all(schedulers.map((s) => s.runDue()));
    for (const p of passes) {
      total.sent += p.sent;
      total.taken += p.taken;
      total.skipped += p.skipped;
    }
    if (passes.every((p) => p.failed === 0)) return total;
  }
  throw new Error("the schedulers kept failing");
}

/** Two "processes": platforms on two handles of one KV file, no executor (items stay queued). */
async function twoProcesses(): Promise<{
  parts: PlatformParts[];
  kvs: Deno.Kv[];
  close: () => Promise<void>;
}> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/kv.sqlite`;
  const kvs = [await Deno.openKv(path), await Deno.openKv(path)];
  const ctrl = new AbortController();
  const parts = kvs.map((kv) =>
    createPlatform({
      kv,
      adminToken: TEST_ADMIN_TOKEN,
      components: ["ctl", "repo", "listener"],
    }, ctrl.signal)
  );
  return {
    parts,
    kvs,
    close: async () => {
      ctrl.abort();
      for (const kv of kvs) kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function deployFor(
  p: PlatformParts,
  tenant: string,
  schedule: string,
  wasm: Uint8Array,
): Promise<void> {
  await p.repo.put(tenant, "echo.wasm", wasm);
  await p.repo.put(tenant, "any.json", new TextEncoder().encode("{}"));
  await p.store.deploy(pkg(tenant, schedule));
}

async function queued(kv: Deno.Kv, tenant: string): Promise<unknown[]> {
  const name = queueStorageName({ tenant, queue: "q" });
  const out: unknown[] = [];
  for await (
    const e of kv.list({ prefix: [...keys.queues(), "ready", name] })
  ) {
    out.push(
      JSON.parse(new TextDecoder().decode(e.value as Uint8Array)).value,
    );
  }
  return out;
}

Deno.test("each tick is sent once across two processes on one store, with its time and payload", async () => {
  const w = await twoProcesses();
  try {
    const wasm = await compileWat("echo");
    await deployFor(
      w.parts[0],
      "acme",
      '{cron: "*/5 * * * *", timezone: Europe/Madrid, payload: {report: daily}}',
      wasm,
    );
    let clock = T0 + 30_000; // 00:00:30
    const schedulers = w.parts.map((p, i) =>
      new Scheduler({
        kv: w.kvs[i],
        store: p.store,
        definitions: p.definitions,
        queue: p.queue,
        now: () => clock,
      })
    );
    await Promise.all(schedulers.map((s) => s.load()));
    assert.equal(schedulers[0].size, 1);
    // Nothing is due before 00:05.
    assert.equal((await settle(schedulers)).sent, 0);
    assert.equal(schedulers[0].nextDue(), T0 + 5 * MINUTE);
    // Over three ticks, both look at each one at once.
    let sent = 0, taken = 0;
    for (const at of [5, 10, 15]) {
      clock = T0 + at * MINUTE + 200;
      const pass = await settle(schedulers);
      sent += pass.sent;
      taken += pass.taken;
    }
    assert.equal(sent, 3);
    const items = await queued(w.kvs[0], "acme") as {
      data: unknown;
      event: string;
      version: number;
    }[];
    assert.deepEqual(
      items.map((i) => i.data),
      [5, 10, 15].map((m) => ({
        scheduledAt: new Date(T0 + m * MINUTE).toISOString(),
        payload: { report: "daily" },
      })),
    );
    assert.deepEqual(items.map((i) => [i.event, i.version]), [
      ["tick", 1],
      ["tick", 1],
      ["tick", 1],
    ]);
    assert.ok(taken <= 3);
    // Both processes down for an hour: the latest missed tick is sent once.
    clock = T0 + 75 * MINUTE + 100;
    const late = await settle(schedulers);
    assert.equal(late.sent, 1);
    assert.equal(late.skipped, 11);
    const all = await queued(w.kvs[1], "acme") as {
      data: { scheduledAt: string };
    }[];
    assert.equal(all.length, 4);
    assert.equal(
      all[3].data.scheduledAt,
      new Date(T0 + 75 * MINUTE).toISOString(),
    );
  } finally {
    await w.close();
  }
});

Deno.test("a redeploy without the schedule stops it at once, in both processes", async () => {
  const w = await twoProcesses();
  try {
    const wasm = await compileWat("echo");
    await deployFor(w.parts[0], "acme", '"* * * * *"', wasm);
    let clock = T0 + 1000;
    const schedulers = w.parts.map((p, i) =>
      new Scheduler({
        kv: w.kvs[i],
        store: p.store,
        definitions: p.definitions,
        queue: p.queue,
        now: () => clock,
      })
    );
    await Promise.all(schedulers.map((s) => s.load()));
    clock = T0 + MINUTE + 10;
    await settle(schedulers);
    assert.equal((await queued(w.kvs[0], "acme")).length, 1);
    // Removed by a deploy through process 0; process 1 learns it from the
    // definition stream's position (no watch across handles).
    await w.parts[0].store.deploy(
      pkg("acme", '"* * * * *"').replace(/ {6}schedule:.*\n/, ""),
    );
    clock = T0 + 2 * MINUTE + 10;
    assert.equal((await settle(schedulers)).sent, 0);
    assert.equal(schedulers[1].size, 0);
    assert.equal((await queued(w.kvs[0], "acme")).length, 1);
  } finally {
    await w.close();
  }
});

Deno.test("attack: schedules every second from many tenants, two processes: each tick once, each tenant its own", async () => {
  const w = await twoProcesses();
  try {
    const wasm = await compileWat("echo");
    const tenants = Array.from({ length: 30 }, (_, i) => `t${i}`);
    // Under the default, a per-second schedule is refused at deploy.
    await w.parts[0].repo.put("t0", "echo.wasm", wasm);
    await w.parts[0].repo.put("t0", "any.json", new TextEncoder().encode("{}"));
    await assert.rejects(
      w.parts[0].store.deploy(pkg("t0", '"* * * * * *"')),
      /fires every 1 s: schedules may fire at most once every 1 min/,
    );
    // A platform that allows it (explicit minimum of 1 s): 30 tenants.
    const ctrl = new AbortController();
    const fast = w.kvs.map((kv) =>
      createPlatform({
        kv,
        adminToken: TEST_ADMIN_TOKEN,
        components: ["ctl", "repo", "listener"],
        minScheduleIntervalMs: 1000,
      }, ctrl.signal)
    );
    for (const t of tenants) {
      await fast[0].repo.put(t, "echo.wasm", wasm);
      await fast[0].repo.put(t, "any.json", new TextEncoder().encode("{}"));
      await fast[0].store.deploy(pkg(t, '"* * * * * *"'));
    }
    let clock = T0 + 100;
    const schedulers = fast.map((p, i) =>
      new Scheduler({
        kv: w.kvs[i],
        store: p.store,
        definitions: p.definitions,
        queue: p.queue,
        now: () => clock,
        minIntervalMs: 1000,
      })
    );
    await Promise.all(schedulers.map((s) => s.load()));
    for (let s = 1; s <= 5; s++) {
      clock = T0 + s * 1000 + 100;
      await settle(schedulers);
    }
    for (const t of tenants) {
      const items = await queued(w.kvs[0], t) as {
        data: { scheduledAt: string };
        tenant: string;
      }[];
      assert.deepEqual(
        items.map((i) => i.data.scheduledAt),
        [1, 2, 3, 4, 5].map((s) => new Date(T0 + s * 1000).toISOString()),
        t,
      );
      assert.ok(items.every((i) => i.tenant === t));
    }
    // The run-time guard: a scheduler whose minimum is higher than what a
    // package was deployed under sends no faster than its own.
    const slow = new Scheduler({
      kv: w.kvs[1],
      store: fast[1].store,
      definitions: fast[1].definitions,
      queue: fast[1].queue,
      now: () => clock,
      minIntervalMs: 3000,
    });
    await slow.load();
    let sent = 0;
    for (let s = 6; s <= 11; s++) {
      clock = T0 + s * 1000 + 100;
      sent += (await settle([slow])).sent;
    }
    // Ticks 8 and 11 (3 s after 5, then after 8) for each tenant.
    assert.equal(sent, 2 * tenants.length);
    ctrl.abort();
  } finally {
    await w.close();
  }
});

Deno.test("a tick that finds its queue full is skipped once, not queued", async () => {
  const w = await twoProcesses();
  try {
    await deployFor(
      w.parts[0],
      "acme",
      '"* * * * *"',
      await compileWat("echo"),
    );
    let clock = T0 + 1000;
    const s = new Scheduler({
      kv: w.kvs[0],
      store: w.parts[0].store,
      definitions: w.parts[0].definitions,
      queue: w.parts[0].queue,
      now: () => clock,
      maxQueueDepth: 1,
    });
    await s.load();
    clock = T0 + MINUTE + 1;
    assert.equal((await s.runDue()).sent, 1);
    clock = T0 + 2 * MINUTE + 1;
    assert.deepEqual(await s.runDue(), {
      sent: 0,
      taken: 0,
      skipped: 1,
      failed: 0,
    });
    assert.equal((await queued(w.kvs[0], "acme")).length, 1);
    const cursor = await w.kvs[0].get(keys.scheduleCursor("acme", "tick"));
    assert.deepEqual(cursor.value, {
      cron: "* * * * *",
      last: T0 + 2 * MINUTE,
      sent: false,
    });
  } finally {
    await w.close();
  }
});

Deno.test("a scheduled event's priority goes with its items, in its band of the queue", async () => {
  const w = await twoProcesses();
  try {
    await deployFor(
      w.parts[0],
      "acme",
      '"*/5 * * * *"\n      priority: high',
      await compileWat("echo"),
    );
    let clock = T0 + 30_000;
    const scheduler = new Scheduler({
      kv: w.kvs[0],
      store: w.parts[0].store,
      definitions: w.parts[0].definitions,
      queue: w.parts[0].queue,
      now: () => clock,
    });
    await scheduler.load();
    assert.equal((await settle([scheduler])).sent, 0);
    clock = T0 + 5 * MINUTE + 200;
    assert.equal((await settle([scheduler])).sent, 1);
    const items = await queued(w.kvs[0], "acme") as { priority?: string }[];
    assert.deepEqual(items.map((i) => i.priority), ["high"]);
    // In the high band: [..., "ready", queue, 0, id].
    const name = queueStorageName({ tenant: "acme", queue: "q" });
    const keysFound = await Array.fromAsync(
      w.kvs[0].list({ prefix: [...keys.queues(), "ready", name, 0] }),
    );
    assert.equal(keysFound.length, 1);
  } finally {
    await w.close();
  }
});
