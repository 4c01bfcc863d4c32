import assert from "node:assert/strict";
import { monotonicIdFactory, WriteBatch } from "@jobico/goico";
import { kvDiff, kvSnapshot } from "../../tests/_kv_audit.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import {
  TEST_ADMIN_TOKEN,
  type TestPlatform,
  testPlatform,
} from "../server/_test_platform.ts";
import { createPlatform } from "../platform.ts";
import { keys } from "../model/keys.ts";
import type { Execution } from "../executions/execution.ts";
import { RetentionSweeper, sweeperStatus } from "./retention_sweeper.ts";

const DAY = 24 * 3600 * 1000;
const text = (s: string) => new TextEncoder().encode(s);

/** The sweeper of `p`, as the platform makes it, with the given options. */
function sweeperOf(
  p: TestPlatform,
  options: Partial<ConstructorParameters<typeof RetentionSweeper>[0]> = {},
): RetentionSweeper {
  return new RetentionSweeper({
    kv: p.kv,
    executions: p.executions,
    ledger: p.ledger,
    policies: p.policies,
    holder: "test",
    ...options,
  });
}

/** Records `n` executions of `tenant` made at `at` (ms). */
async function recordAt(
  p: TestPlatform,
  tenant: string,
  n: number,
  at: number,
): Promise<void> {
  const idAt = monotonicIdFactory(() => at);
  for (let i = 0; i < n; i += 300) {
    const part = Array.from({ length: Math.min(300, n - i) }, () => {
      const e: Execution = {
        id: idAt(),
        eventId: "e",
        tenant,
        package: "p",
        event: "ev",
        queue: "q",
        status: "ok",
        code: 0,
        result: null,
        error: null,
        logs: [],
        attempt: 1,
        startedAt: new Date(at).toISOString(),
        durationMs: 1,
      };
      return p.executions.fit(e);
    });
    assert.ok(
      (await p.executions.recordAll(new WriteBatch(p.kv), part).commit()).ok,
    );
  }
}

async function executionIds(p: TestPlatform, tenant: string) {
  return (await Array.fromAsync(p.kv.list({ prefix: keys.executions(tenant) })))
    .map((e) => e.key[2] as string);
}

/** A package whose event `ev` runs `m.wasm`; its ok result chains to `done` (run by `done`, default `echo.wasm`). */
const pkg = (tenant: string, name: string, done = "echo.wasm") => `
id: p
name: ${name}
tenant: ${tenant}
queues: [{id: q}, {id: results}]
jobs:
  - event: {id: ev, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: r}
    result:
      ok: {id: done, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
runtimes:
  - {id: r, moduleref: m.wasm, retries: 0}
  - {id: echo, moduleref: ${done}, retries: 0}
`;

async function versions(p: TestPlatform, tenant: string): Promise<number[]> {
  return (await Array.fromAsync(
    p.kv.list({ prefix: keys.packageVersions(tenant, "p") }),
  )).map((e) => e.key[3] as number);
}

Deno.test("sweep, default retention: executions older than 7 days go, the rest stay; a pass with nothing to do writes nothing", async () => {
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    const now = Date.now();
    await p.tenants.create("t");
    await recordAt(p, "t", 30, now - 8 * DAY);
    await recordAt(p, "t", 20, now - 6 * DAY);
    const kept = (await executionIds(p, "t")).slice(30);
    const sweeper = sweeperOf(p);
    const report = await sweeper.pass();
    assert.ok(report);
    assert.equal(report.executions, 30);
    assert.equal(report.complete, true);
    assert.deepEqual(await executionIds(p, "t"), kept);
    assert.equal(await p.executions.count("t"), 20);
    const status = await sweeperStatus(p.kv, sweeper);
    assert.equal(status.last?.executions, 30);
    assert.deepEqual(status.totals, { executions: 30, versions: 0, blobs: 0 });
    assert.equal(status.holder, "test");
    // Nothing more to do: the store is left as it is.
    const before = await kvSnapshot(p.kv);
    assert.equal((await sweeper.pass())?.executions, 0);
    assert.deepEqual(kvDiff(before, await kvSnapshot(p.kv)), []);
  } finally {
    await p.close();
  }
});

Deno.test("sweep, a tenant's own retention: its days and its count, while others keep the defaults", async () => {
  const p = await testPlatform({
    sweepIntervalMs: 0,
    retention: { executions: 25 },
  });
  try {
    const now = Date.now();
    for (const t of ["a", "b", "c"]) {
      await p.tenants.create(t);
      await recordAt(p, t, 10, now - 3 * DAY);
      await recordAt(p, t, 20, now - 1000);
    }
    await p.policies.update("a", { retention: { executions: 5 } });
    await p.policies.update("b", { retention: { days: 2, executions: 0 } });
    const report = await sweeperOf(p).pass();
    // a: the newest 5; b: the last 2 days; c: the platform's 25.
    assert.equal((await executionIds(p, "a")).length, 5);
    assert.equal((await executionIds(p, "b")).length, 20);
    assert.equal((await executionIds(p, "c")).length, 25);
    assert.equal(report?.executions, 25 + 10 + 5);
  } finally {
    await p.close();
  }
});

Deno.test("sweep, many thousands of executions: bounded passes in atomics within the KV's limits, resumed by another process", async () => {
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    const long = "t".repeat(64);
    await p.tenants.create(long);
    await p.tenants.create("z");
    await recordAt(p, long, 12_000, Date.now() - 30 * DAY);
    await recordAt(p, "z", 100, Date.now() - 30 * DAY);
    // Batches asked larger than an atomic takes are held to its limits.
    const first = sweeperOf(p, { maxPerPass: 5_000, batch: 5_000 });
    let report = await first.pass();
    assert.deepEqual([report?.executions, report?.complete], [5_000, false]);
    // The first process stops; another goes on where it stopped.
    const second = sweeperOf(p, { maxPerPass: 5_000, holder: "second" });
    report = await second.pass();
    assert.equal(report, null, "the first one's lease holds");
    await first.run(AbortSignal.abort()); // releases it
    report = await second.pass();
    assert.deepEqual([report?.executions, report?.complete], [5_000, false]);
    report = await second.pass();
    assert.deepEqual([report?.executions, report?.complete], [2_100, true]);
    assert.deepEqual(await executionIds(p, long), []);
    assert.deepEqual(await executionIds(p, "z"), []);
    assert.equal(await p.executions.count(long), 0);
    assert.deepEqual((await sweeperStatus(p.kv)).totals, {
      executions: 12_100,
      versions: 0,
      blobs: 0,
    });
  } finally {
    await p.close();
  }
});

Deno.test("sweep, lease: two sweepers at once never remove the same thing twice; the counts stay exact", async () => {
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    await p.tenants.create("t");
    await recordAt(p, "t", 3_000, Date.now() - 30 * DAY);
    await recordAt(p, "t", 10, Date.now());
    const a = sweeperOf(p, { holder: "a", maxPerPass: 400, batch: 100 });
    const b = sweeperOf(p, { holder: "b", maxPerPass: 400, batch: 100 });
    let removed = 0;
    for (let round = 0; round < 20; round++) {
      const [ra, rb] = await Promise.all([a.pass(), b.pass()]);
      removed += (ra?.executions ?? 0) + (rb?.executions ?? 0);
      if (ra && rb && ra.executions + rb.executions > 0) {
        assert.fail("both sweepers removed executions in one round");
      }
    }
    assert.equal(removed, 3_000);
    assert.equal(await p.executions.count("t"), 10);
    assert.equal((await executionIds(p, "t")).length, 10);
  } finally {
    await p.close();
  }
});

Deno.test("sweep, versions: the newest 10 of each package stay by default, a tenant's own count otherwise, and only once the next one is a minute old", async () => {
  let now = Date.now();
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    for (const t of ["a", "b"]) {
      await p.repo.put(t, "any.json", text("{}"));
      await p.repo.put(t, "m.wasm", await compileWat("echo"));
      await p.repo.put(t, "echo.wasm", await compileWat("echo"));
      for (let v = 1; v <= 13; v++) await p.store.deploy(pkg(t, `v${v}`));
    }
    await p.policies.update("b", { retention: { versions: 2 } });
    const sweeper = sweeperOf(p, { now: () => now });
    // Just deployed: a listener may not know of the newest yet.
    let report = await sweeper.pass();
    assert.equal(report?.versions, 0);
    now += 61_000;
    report = await sweeper.pass();
    assert.equal(report?.versions, 3 + 11);
    assert.deepEqual(await versions(p, "a"), [
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
    ]);
    assert.deepEqual(await versions(p, "b"), [12, 13]);
    assert.equal((await p.ledger.read("a")).versions, 10);
    // The current version works; rollback to a removed one is a 404.
    assert.equal((await p.store.current("a", "p")).version, 13);
    await assert.rejects(p.store.rollback("a", "p", 3), /has no version 3/);
    // Deploys add: the oldest go on the next pass, nothing else is read again.
    await p.store.deploy(pkg("a", "v14"));
    now += 61_000;
    report = await sweeper.pass();
    assert.equal(report?.versions, 1);
    assert.deepEqual(await versions(p, "a"), [
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
      14,
    ]);
  } finally {
    await p.close();
  }
});

Deno.test("sweep: versions a package delete left behind (a crash after its first write) are removed, unless pinned", async () => {
  let now = Date.now();
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", await compileWat("echo"));
    await p.repo.put("t", "echo.wasm", await compileWat("echo"));
    for (let v = 1; v <= 3; v++) await p.store.deploy(pkg("t", `v${v}`));
    // What the delete's first atomic does, and then the process dies.
    const head = await p.kv.get(keys.packageHead("t", "p"));
    await p.kv.atomic().check(head).delete(head.key)
      .delete(keys.eventOwner("t", "ev")).delete(keys.eventOwner("t", "done"))
      .commit();
    await p.ledger.markVersionsChanged("t");
    now += 61_000;
    const report = await sweeperOf(p, { now: () => now }).pass();
    assert.equal(report?.versions, 3);
    assert.deepEqual(await versions(p, "t"), []);
    const usage = await p.ledger.read("t");
    assert.equal(usage.versions, 0);
    assert.equal(usage.bytes, (await p.ledger.measure("t")).usage.bytes);
  } finally {
    await p.close();
  }
});

Deno.test("sweep attack: a version pinned by a queued event survives, the event still runs with it, and it goes once the event is done", async () => {
  let now = Date.now();
  // No executor here: the event waits in its queue.
  const p = await testPlatform({
    sweepIntervalMs: 0,
    retention: { versions: 1 },
    components: ["ctl", "repo", "listener", "recorder"],
  });
  try {
    const echo = await compileWat("echo");
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", echo);
    await p.repo.put("t", "echo.wasm", echo);
    await p.store.deploy(pkg("t", "v1"));
    const sent = await p.app.request("/events/t/ev", {
      method: "POST",
      body: JSON.stringify({ data: [{ from: "v1" }] }),
    });
    assert.equal(sent.status, 200, await sent.clone().text());
    // Version 1's module is replaced by one that fails, and deployed thrice.
    await p.repo.put("t", "m.wasm", await compileWat("error"));
    for (let v = 2; v <= 4; v++) await p.store.deploy(pkg("t", `v${v}`));
    now += 61_000;
    const sweeper = sweeperOf(p, { now: () => now });
    const report = await sweeper.pass();
    assert.equal(report?.versions, 2);
    assert.equal(report?.pinned, 1);
    assert.deepEqual(await versions(p, "t"), [1, 4]);
    // Its module too: the name points elsewhere, the version keeps it.
    assert.equal((await p.ledger.collect({ max: 100 })).collected, 0);

    // An executor comes: the event runs with version 1 (echo, ok), not 4.
    const ctrl = new AbortController();
    const parts = createPlatform({
      kv: p.kv,
      adminToken: TEST_ADMIN_TOKEN,
      components: ["executor"],
      workers: 1,
      sweepIntervalMs: 0,
    }, ctrl.signal);
    const running = parts.run(ctrl.signal);
    try {
      const deadline = Date.now() + 20_000;
      let execs: Execution[] = [];
      while (Date.now() < deadline) {
        execs = (await p.executions.list("t")).executions;
        if (execs.some((e) => e.event === "done")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const ev = execs.find((e) => e.event === "ev");
      assert.equal(ev?.status, "ok", JSON.stringify(execs));
      assert.deepEqual(JSON.parse(ev!.result!), { from: "v1" });
      assert.ok(execs.some((e) => e.event === "done" && e.status === "ok"));
    } finally {
      ctrl.abort();
      await running;
    }
    // Done: nothing pins version 1 any more; it goes, and its module with it.
    const pin = await p.kv.get<Deno.KvU64>(keys.versionPin("t", "p", 1));
    assert.equal(pin.value?.value ?? 0n, 0n);
    now += 61_000;
    const after = await sweeper.pass();
    assert.equal(after?.versions, 1);
    assert.deepEqual(await versions(p, "t"), [4]);
    assert.deepEqual(
      await Array.fromAsync(p.kv.list({ prefix: keys.versionPins("t") })),
      [],
    );
    assert.equal(after?.blobs, 0, "echo.wasm still names the same module");
  } finally {
    await p.close();
  }
});

Deno.test("sweep: a version pinned by a dead letter stays until the dead letter is purged", async () => {
  let now = Date.now();
  const p = await testPlatform({
    sweepIntervalMs: 0,
    retention: { versions: 1 },
    workers: 1,
  });
  try {
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", await compileWat("trap"));
    await p.repo.put("t", "echo.wasm", await compileWat("echo"));
    await p.store.deploy(pkg("t", "v1"));
    p.start();
    // 150 events: more than one atomic of a purge checks.
    const sent = await p.app.request("/events/t/ev", {
      method: "POST",
      body: JSON.stringify({ data: Array.from({ length: 150 }, () => ({})) }),
    });
    assert.equal(sent.status, 200);
    const deadline = Date.now() + 20_000;
    while ((await p.queue.stats("t/q")).dead < 150) {
      assert.ok(Date.now() < deadline, "the events never failed");
      await new Promise((r) => setTimeout(r, 20));
    }
    await p.store.deploy(pkg("t", "v2"));
    now += 61_000;
    const sweeper = sweeperOf(p, { now: () => now });
    assert.equal((await sweeper.pass())?.pinned, 1);
    assert.deepEqual(await versions(p, "t"), [1, 2]);
    const purge = await p.app.request("/api/v1/tenants/t/queues/q/dead", {
      method: "DELETE",
    });
    assert.deepEqual(await purge.json(), { purged: 150 });
    assert.equal((await sweeper.pass())?.versions, 1);
    assert.deepEqual(await versions(p, "t"), [2]);
  } finally {
    await p.close();
  }
});

Deno.test("pins: a chained event keeps the version pinned after the event that made it is done", async () => {
  const p = await testPlatform({ sweepIntervalMs: 0, workers: 1 });
  try {
    await p.repo.put("t", "any.json", text("{}"));
    await p.repo.put("t", "m.wasm", await compileWat("echo"));
    await p.repo.put("t", "trap.wasm", await compileWat("trap"));
    await p.store.deploy(pkg("t", "v1", "trap.wasm"));
    p.start();
    const sent = await p.app.request("/events/t/ev", {
      method: "POST",
      body: JSON.stringify({ data: [{}, {}, {}] }),
    });
    assert.equal(sent.status, 200);
    // Each event is ok and chains `done`, which fails into a dead letter.
    const deadline = Date.now() + 20_000;
    while ((await p.queue.stats("t/results")).dead < 3) {
      assert.ok(Date.now() < deadline, "the chained events never failed");
      await new Promise((r) => setTimeout(r, 20));
    }
    const pin = async () =>
      (await p.kv.get<Deno.KvU64>(keys.versionPin("t", "p", 1))).value?.value;
    assert.equal(await pin(), 3n);
    const purge = await p.app.request("/api/v1/tenants/t/queues/results/dead", {
      method: "DELETE",
    });
    assert.deepEqual(await purge.json(), { purged: 3 });
    assert.equal(await pin(), 0n);
  } finally {
    await p.close();
  }
});

Deno.test("sweep: a replaced module nobody uses any more is collected by the pass", async () => {
  const p = await testPlatform({ sweepIntervalMs: 0 });
  try {
    const echo = await compileWat("echo");
    await p.repo.put("t", "m.wasm", echo);
    const { sha256 } = (await p.repo.info("t", "m.wasm"))!;
    await p.repo.put("t", "m.wasm", await compileWat("error"));
    const report = await sweeperOf(p).pass();
    assert.equal(report?.blobs, 1);
    assert.equal(await p.repo.bytes(sha256).catch(() => null), null);
    assert.ok(await p.repo.read("t", "m.wasm"));
  } finally {
    await p.close();
  }
});

Deno.test("the platform runs its sweeper every sweepIntervalMs where ctl runs", async () => {
  const p = await testPlatform({
    sweepIntervalMs: 50,
    retention: { executions: 3 },
  });
  try {
    assert.ok(p.sweeper);
    await p.tenants.create("t");
    await recordAt(p, "t", 10, Date.now());
    p.start();
    const deadline = Date.now() + 10_000;
    while ((await executionIds(p, "t")).length > 3) {
      assert.ok(Date.now() < deadline, "never swept");
      await new Promise((r) => setTimeout(r, 20));
    }
    const none = await testPlatform({ components: ["executor"], workers: 1 });
    assert.equal(none.sweeper, undefined);
    await none.close();
  } finally {
    await p.close();
  }
});
