/**
 * Retries work in the default configuration: with no retry setting at all
 * (no `retryBaseMs` given to the platform, no JOBICO_RETRY_BASE_MS given to
 * the server) a failed execution is retried after the documented default
 * delay (1 s, doubling) and ends in its queue's dead letters, instead of a
 * "Retrying in NaN ms" that parks it forever.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { type Harness, startHarness, storeTest as test } from "./_harness.ts";
import type { Execution } from "../components/executions/execution.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";
import { authFetch } from "./_auth_fetch.ts";
import { keys } from "../components/model/keys.ts";
import {
  DEFAULT_LIMITS,
  DEFAULT_MAX_LIMITS,
} from "../components/model/runtime_limits.ts";
import { Executor } from "../components/executor/executor.ts";

/** `trap` fails every time; one runtime takes the platform's retries, one declares 1. */
const PACKAGE = `
id: retrying
tenant: rt
queues: [{id: work}]
jobs:
  - event: {id: fails, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: trap}
  - event: {id: fails-once-more, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: trap1}
runtimes:
  - {id: trap, moduleref: trap.wasm}
  - {id: trap1, moduleref: trap.wasm, retries: 1}
`;

/** A runtime that declares 5 retries: within the default ceiling of 10. */
const FIVE_RETRIES = `
id: five
tenant: rt
queues: [{id: work}]
jobs:
  - event: {id: fails-five, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: trap5}
runtimes:
  - {id: trap5, moduleref: trap.wasm, retries: 5}
`;

const hostNotes = (e: Execution) =>
  e.logs.filter((l) => l.source === "host").map((l) => l.message);

async function deploy(
  api: (path: string, init?: RequestInit) => Promise<Response>,
): Promise<void> {
  const put = async (name: string, body: Uint8Array | string) => {
    const res = await api(`/api/v1/tenants/rt/files/${name}`, {
      method: "PUT",
      body: typeof body === "string" ? body : body as Uint8Array<ArrayBuffer>,
    });
    assert.equal(res.status, 201, await res.text());
  };
  await put("trap.wasm", await compileWat("trap"));
  await put("any.json", "{}");
  const res = await api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/yaml" },
    body: PACKAGE,
  });
  assert.equal(res.status, 201, await res.text());
}

/** Polls until `pred` holds; fails after `ms`. */
async function until<T>(
  what: string,
  get: () => Promise<T>,
  pred: (v: T) => boolean,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await get();
  while (!pred(last)) {
    if (Date.now() > deadline) {
      throw new Error(`${what} never happened; last: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    last = await get();
  }
  return last;
}

async function executions(h: Harness): Promise<Execution[]> {
  const res = await h.api("/api/v1/tenants/rt/executions?limit=1000");
  return (await res.json()).executions;
}

test("default configuration: a failed execution is retried after 1 s, with a finite due time", async (store) => {
  // Nothing about retries is set: the platform's defaults apply.
  const h = await startHarness({ store });
  try {
    await deploy(h.api);
    const [id] = await h.send("rt", "fails", [{}]);
    const first = await until(
      "the first failure",
      () => executions(h),
      (e) => e.some((x) => x.eventId === id),
    );
    assert.deepEqual(hostNotes(first[0]), [
      "Retrying in 1000 ms (retry 1 of 3)",
    ]);
    // It waits for its retry under a real due time, one second away.
    const delayed = await Array.fromAsync(
      h.kv.list({ prefix: [...keys.queues(), "delayed"] }),
    );
    assert.equal(delayed.length, 1);
    const dueAt = delayed[0].key[keys.queues().length + 1];
    assert.equal(typeof dueAt, "number");
    assert.ok(Number.isFinite(dueAt), `due at ${String(dueAt)}`);
    // And it is retried: the second attempt doubles the delay.
    const second = await until(
      "the second attempt",
      () => executions(h),
      (e) => e.filter((x) => x.eventId === id).length >= 2,
    );
    const attempts = second.filter((x) => x.eventId === id).reverse();
    assert.deepEqual(attempts.map((e) => e.attempt), [1, 2]);
    assert.deepEqual(hostNotes(attempts[1]), [
      "Retrying in 2000 ms (retry 2 of 3)",
    ]);
    const gap = Date.parse(attempts[1].startedAt) -
      Date.parse(attempts[0].startedAt);
    assert.ok(gap >= 1000, `the retry came after ${gap} ms`);
  } finally {
    await h.close();
  }
});

test("default configuration: a failing event ends in the dead letters", async (store) => {
  const h = await startHarness({ store });
  try {
    await deploy(h.api);
    const [id] = await h.send("rt", "fails-once-more", [{}]);
    // The dead letter, and nothing left waiting, delayed or in flight
    // (stats reads its counters and lists one after the other: a read
    // during the dead letter's commit may see the count before the list).
    const stats = await until(
      "the dead letter and an empty queue",
      () => h.platform.queue.stats("rt/work"),
      (s) =>
        s.dead === 1 && s.depth === 0 && s.delayed === 0 && s.inFlight === 0,
    );
    assert.deepEqual(
      [stats.dead, stats.depth, stats.delayed, stats.inFlight],
      [1, 0, 0, 0],
    );
    const attempts = (await executions(h)).filter((x) => x.eventId === id)
      .reverse();
    assert.deepEqual(attempts.map((e) => hostNotes(e)), [
      ["Retrying in 1000 ms (retry 1 of 1)"],
      ['Moved to the dead letters of queue "work" after 2 failed attempts'],
    ]);
    // Nothing parked counts against the queue's depth limit.
    assert.equal(await h.platform.queue.backlog("rt/work"), 0);
  } finally {
    await h.close();
  }
});

Deno.test("default configuration: the server started with no retry setting retries and dead-letters", async () => {
  const data = await Deno.makeTempDir({ prefix: "jobico-retry-defaults-" });
  const token = "retry-defaults-admin-token";
  // Only what the server needs to start: no JOBICO_RETRIES, no JOBICO_RETRY_BASE_MS.
  const server = await spawnServer(RUN_MAIN, {
    JOBICO_DATA: data,
    JOBICO_ADMIN_TOKEN: token,
    JOBICO_LOG_LEVEL: "info",
  });
  try {
    const api = authFetch(server.url, token);
    await deploy(api);
    const res = await api("/events/rt/fails-once-more", {
      method: "POST",
      body: JSON.stringify({ data: [{}] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const [id] = (await res.json()).ids;
    const dead = await until(
      "the dead letter",
      async () => (await (await api("/api/v1/tenants/rt/queues/work/dead"))
        .json()),
      (d) => d.dead?.length === 1,
    );
    assert.equal(dead.dead[0].eventId, id);
    const execs: Execution[] =
      (await (await api("/api/v1/tenants/rt/executions")).json()).executions;
    assert.deepEqual(execs.reverse().map((e) => hostNotes(e)), [
      ["Retrying in 1000 ms (retry 1 of 1)"],
      ['Moved to the dead letters of queue "work" after 2 failed attempts'],
    ]);
  } finally {
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
});

test("default configuration: limits given as undefined keep their defaults and ceilings", async (store) => {
  // As a caller passing optional settings on would, with none of them set.
  const h = await startHarness({
    store,
    limits: {
      timeoutMs: undefined,
      memoryMb: undefined,
      fuel: undefined,
      retries: undefined,
    },
    maxLimits: {
      timeoutMs: undefined,
      memoryMb: undefined,
      fuel: undefined,
      retries: undefined,
    },
  });
  try {
    const meta = await (await h.api("/meta")).json();
    assert.deepEqual(meta.limits, DEFAULT_LIMITS);
    await deploy(h.api);
    // The ceiling of retries is still 10: 5 may be declared.
    await h.deploy(FIVE_RETRIES);
    const [id] = await h.send("rt", "fails", [{}]);
    const [first] = await until(
      "the first failure",
      () => executions(h),
      (e) => e.some((x) => x.eventId === id),
    );
    // Three retries by default, not straight to the dead letters.
    assert.deepEqual(hostNotes(first), ["Retrying in 1000 ms (retry 1 of 3)"]);
    assert.equal(DEFAULT_MAX_LIMITS.retries, 10);
  } finally {
    await h.close();
  }
});

Deno.test("Executor: an invalid retry delay is refused when it is made, not turned into NaN", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const base = { kv } as unknown as ConstructorParameters<typeof Executor>[0];
    for (const bad of [NaN, -1, Infinity]) {
      assert.throws(
        () => new Executor({ ...base, retryBaseMs: bad }),
        new RegExp(`Invalid executor option retryBaseMs ${bad}`),
      );
    }
    // 0 retries at once; undefined keeps the default.
    new Executor({ ...base, retryBaseMs: 0 });
    new Executor({ ...base, retryBaseMs: undefined });
  } finally {
    kv.close();
  }
});
