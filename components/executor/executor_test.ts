import assert from "node:assert/strict";
import { monotonicId, silentLogger, WasmPool, WriteBatch } from "@jobico/goico";
import {
  examples,
  type TestPlatform,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";
import type { Execution } from "../executions/execution.ts";
import type { EventItem } from "../model/event_item.ts";
import { Executor, type ExecutorOptions } from "./executor.ts";
import { JobicoletRunner } from "./jobicolet_runner.ts";

/**
 * A platform with the greet package deployed and no executor of its own
 * (the real KV, queue, definitions and store of executions), and an
 * Executor over them running the example's real WebAssembly modules.
 */
async function setup(more: Partial<ExecutorOptions> = {}): Promise<
  {
    p: TestPlatform;
    executor: Executor;
    run: () => Promise<void>;
    close: () => Promise<void>;
  }
> {
  const p = await testPlatform({ components: ["ctl"] });
  await uploadGreetFiles(p);
  await p.store.deploy(await Deno.readTextFile(new URL("job.yaml", examples)));
  const pool = new WasmPool({ size: 1 });
  const executor = new Executor({
    kv: p.kv,
    queue: p.queue,
    definitions: p.definitions,
    executions: p.executions,
    runner: new JobicoletRunner((sha) => p.repo.bytes(sha), { pool }),
    logger: silentLogger,
    ...more,
  });
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  return {
    p,
    executor,
    run: () => {
      running ??= executor.run(stop.signal);
      return Promise.resolve();
    },
    close: async () => {
      stop.abort();
      await running;
      pool.close();
      await p.close();
    },
  };
}

/** Appends greet events (version 1 unless given) to the greetings queue; returns their ids. */
async function send(
  p: TestPlatform,
  data: unknown[],
  version = 1,
): Promise<string[]> {
  const items = data.map((d) => {
    const id = monotonicId();
    const value: EventItem = {
      tenant: "demo",
      package: "greet",
      version,
      event: "greet",
      eventId: id,
      data: d,
    };
    return { id, value };
  });
  const op = p.queue.append(new WriteBatch(p.kv), "demo/greetings", items);
  assert.ok((await op.commit()).ok);
  return items.map((i) => i.id);
}

/** Every execution of tenant demo, oldest first. */
async function executions(p: TestPlatform): Promise<Execution[]> {
  const all: Execution[] = [];
  let cursor: string | undefined;
  do {
    const page = await p.executions.list("demo", {
      limit: 1000,
      ...(cursor && { cursor }),
    });
    all.push(...page.executions);
    cursor = page.cursor ?? undefined;
  } while (cursor);
  return all.reverse();
}

/** Waits (60 s at most) until `fn` holds. */
async function until(what: string, fn: () => Promise<boolean>) {
  const deadline = Date.now() + 60_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("Executor: runs each event in queue order and records it with its chained event and its ack", async () => {
  const t = await setup();
  try {
    const names = Array.from({ length: 30 }, (_, i) => `n${i}`);
    const ids = await send(t.p, names.map((name) => ({ name })));
    await t.run();
    // Each greeting, and the audit of it its chained event ran.
    await until(
      "60 executions",
      async () => (await executions(t.p)).length === 60,
    );
    const all = await executions(t.p);
    const greets = all.filter((e) => e.event === "greet");
    assert.deepEqual(greets.map((e) => e.eventId), ids);
    for (const [i, e] of greets.entries()) {
      assert.equal(e.status, "ok");
      assert.deepEqual(JSON.parse(e.result!), {
        greeting: `Hello, ${names[i]}!`,
      });
    }
    const audits = all.filter((e) => e.event === "greeted");
    assert.deepEqual(
      audits.map((e) => e.chainedFrom?.executionId),
      greets.map((e) => e.id),
    );
    for (const q of ["demo/greetings", "demo/audit"]) {
      const stats = await t.p.queue.stats(q);
      assert.equal(stats.processed, 30, q);
      assert.equal(stats.depth + stats.inFlight + stats.dead, 0, q);
    }
    assert.equal(t.executor.executed, 60);
  } finally {
    await t.close();
  }
});

Deno.test("Executor: a failing event is retried, then moved to the dead letters, each attempt recorded", async () => {
  const t = await setup({ retryBaseMs: 1 });
  try {
    // Version 9 was never deployed: the event fails on each attempt.
    const [id] = await send(t.p, [{ name: "Ada" }], 9);
    await t.run();
    await until(
      "the dead letter",
      async () => (await t.p.queue.stats("demo/greetings")).dead === 1,
    );
    const attempts = (await executions(t.p)).filter((e) => e.eventId === id);
    // The first run and the 3 retries of the default limits.
    assert.deepEqual(attempts.map((e) => e.attempt), [1, 2, 3, 4]);
    assert.ok(attempts.every((e) => e.status === "failed"));
    assert.match(attempts[0].error!, /no longer declares event "greet"/);
    assert.match(attempts[0].logs.at(-1)!.message, /^Retrying in 1 ms/);
    assert.match(
      attempts[3].logs.at(-1)!.message,
      /^Moved to the dead letters of queue "greetings" after 4 failed attempts/,
    );
    const [letter] = (await t.p.queue.listDead("demo/greetings")).letters;
    assert.equal(letter.item.id, id);
    assert.equal(letter.ref, attempts[3].id);
  } finally {
    await t.close();
  }
});

Deno.test("Executor: outcomes too large for one atomic together are committed in several, as measured, none lost", async () => {
  const t = await setup();
  try {
    // Each outcome holds a name of 15,000 characters twice (the result and
    // the chained envelope's copy of it): 60 of them are about 1.8 MB, more
    // than twice what one atomic may write.
    const name = (i: number) => `${i}`.padEnd(15_000, "x");
    const ids: string[] = [];
    for (let i = 0; i < 60; i += 20) {
      ids.push(
        ...await send(
          t.p,
          Array.from({ length: 20 }, (_, j) => ({ name: name(i + j) })),
        ),
      );
    }
    await t.run();
    await until(
      "60 greetings and their audits",
      async () => (await executions(t.p)).length === 120,
    );
    const greets = (await executions(t.p)).filter((e) => e.event === "greet");
    assert.deepEqual(greets.map((e) => e.eventId), ids);
    assert.ok(greets.every((e) => e.status === "ok"));
    assert.equal(JSON.parse(greets[7].result!).greeting, `Hello, ${name(7)}!`);
    assert.equal((await t.p.queue.stats("demo/greetings")).processed, 60);
    assert.equal((await t.p.queue.stats("demo/audit")).processed, 60);
  } finally {
    await t.close();
  }
});
