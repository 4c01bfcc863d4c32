/**
 * Poison events: an outcome that can never be stored (a chained result too
 * large for a KV value, a record that only fits as UTF-8) must not be
 * delivered again forever with nothing recorded. Either it is stored after
 * all (fitted as the KV measures it) or it is recorded as a failed
 * execution with the reason and its event goes to the dead letters; the
 * queue goes on with the events behind it.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { type Harness, startHarness, storeTest as test } from "./_harness.ts";
import type { Execution } from "../components/executions/execution.ts";
import { serialize } from "node:v8";
import { MAX_ITEM_BYTES } from "@jobico/goico";
import { startPlatform } from "../components/platform.ts";
import { queueStorageName } from "../components/model/queue_ref.ts";
import { authFetch } from "./_auth_fetch.ts";

const PACKAGE = `
id: poison
tenant: px
queues: [{id: work}, {id: results}]
jobs:
  - event: {id: big, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: big}
    result:
      ok: {id: big-ok, schema: {id: s, schemaref: any.json}, supplierqueue: results, runtime: echo}
  - event: {id: wide, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: wide}
  - event: {id: echo, schema: {id: s, schemaref: any.json}, supplierqueue: work, runtime: echo}
runtimes:
  - {id: big, moduleref: big_result.wasm, retries: 3}
  - {id: wide, moduleref: wide_log.wasm}
  - {id: echo, moduleref: echo.wasm}
`;

async function deploy(h: Harness): Promise<void> {
  for (const name of ["big_result", "wide_log", "echo"]) {
    await h.upload("px", `${name}.wasm`, await compileWat(name));
  }
  await h.upload("px", "any.json", "{}");
  await h.deploy(PACKAGE);
}

const byEventId = (execs: Execution[], id: string) =>
  execs.filter((e) => e.eventId === id);

/** Waits until the queue holds nothing: no item can be delivered again. */
async function drained(h: Harness, queue: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await h.platform.queue.stats(queue);
    if (s.depth === 0 && s.inFlight === 0 && s.delayed === 0) return s;
    if (Date.now() > deadline) {
      throw new Error(`Queue ${queue} never drained: ${JSON.stringify(s)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a chained result too large for one KV value is a failed execution with the reason, and its event a dead letter", async (store) => {
  // A short lease: on failure the event would come back quickly.
  const h = await startHarness({ store, leaseMs: 300 });
  try {
    await deploy(h);
    // 100,000 characters of result: the chained `big-ok` event cannot be queued.
    const [poison] = await h.send("px", "big", [100_000]);
    // The queue goes on behind it.
    const [after] = await h.send("px", "echo", [{ n: 1 }]);
    const execs = await h.waitFor(
      "px",
      (e) =>
        byEventId(e, poison).length === 1 && byEventId(e, after).length === 1,
    );
    const [e] = byEventId(execs, poison);
    assert.equal(e.status, "failed");
    assert.equal(e.code, 0);
    assert.match(
      e.error!,
      /^Result event "big-ok" cannot be sent: it takes \d+ bytes, more than the 65280 a queued event may hold \(the result is 100002 characters\)$/,
    );
    assert.deepEqual(
      e.logs.filter((l) => l.source === "host").map((l) => l.message),
      ['Moved to the dead letters of queue "work": its result event cannot be sent'],
    );
    // Straight to the dead letters (no retry would change it), nothing chained.
    const stats = await drained(h, "px/work");
    assert.equal(stats.dead, 1);
    const { letters } = await h.platform.queue.listDead("px/work");
    assert.equal(letters[0].item.value.eventId, poison);
    assert.equal(letters[0].ref, e.id);
    assert.match(letters[0].error, /^Result event "big-ok" cannot be sent/);
    assert.equal(execs.filter((x) => x.event === "big-ok").length, 0);
    assert.equal((await h.platform.queue.stats("px/results")).processed, 0);
    // Recorded once: with nothing in flight, it cannot come back.
    const again = await h.waitFor("px", () => true);
    assert.equal(byEventId(again, poison).length, 1);
    assert.equal(byEventId(byEventId(again, after), after)[0].status, "ok");
  } finally {
    await h.close();
  }
});

test("a chained result that fits is still sent (the friendly side of the limit)", async (store) => {
  const h = await startHarness({ store, leaseMs: 300 });
  try {
    await deploy(h);
    const [id] = await h.send("px", "big", [10_000]);
    const execs = await h.waitFor(
      "px",
      (e) => e.some((x) => x.event === "big-ok"),
    );
    assert.equal(byEventId(execs, id)[0].status, "ok");
    const chained = execs.find((x) => x.event === "big-ok")!;
    assert.equal(chained.status, "ok");
    // The item is the result itself (a string), which echo returns.
    assert.equal(JSON.parse(chained.result!).length, 10_000);
  } finally {
    await h.close();
  }
});

test("a record that fits as UTF-8 but not as the KV stores it is fitted and recorded once", async (store) => {
  const h = await startHarness({ store, leaseMs: 300 });
  try {
    await deploy(h);
    // 20 lines of a euro sign and 4,093 x: 80 KB of UTF-8 (fitted to 60 KB
    // by dropping lines), twice that as V8 stores the lines.
    const [id] = await h.send("px", "wide", [20]);
    const execs = await h.waitFor("px", (e) => byEventId(e, id).length === 1);
    const [e] = byEventId(execs, id);
    assert.equal(e.status, "ok");
    assert.equal(e.result, "logged");
    const kept = e.logs.filter((l) => l.source === "module").length;
    assert.ok(kept > 0 && kept < 10, `${kept} lines kept`);
    assert.match(
      e.logs.at(-1)!.message,
      new RegExp(`^${20 - kept} log lines dropped`),
    );
    const stats = await drained(h, "px/work");
    assert.equal(stats.processed, 1);
    assert.equal(byEventId(await h.waitFor("px", () => true), id).length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("the largest event that fails with a long reason is dead-lettered with its reason (cut if it does not fit)", async () => {
  const kv = await Deno.openKv(":memory:");
  const adminToken = "poison-admin-token-0123456789";
  // The longest names a package may use.
  const long = (c: string) => c.repeat(64);
  const [tenant, pkg, event, queue] = [
    long("t"),
    long("p"),
    long("e"),
    long("q"),
  ];
  const front = await startPlatform({
    kv,
    adminToken,
    port: 0,
    components: ["ctl", "repo", "listener", "recorder"],
  });
  let back: Awaited<ReturnType<typeof startPlatform>> | undefined;
  try {
    const api = authFetch(front.url, adminToken);
    const put = async (name: string, body: BodyInit) => {
      const res = await api(`/api/v1/tenants/${tenant}/files/${name}`, {
        method: "PUT",
        body,
      });
      assert.equal(res.status, 201, await res.text());
    };
    await put(
      "echo.wasm",
      (await compileWat("echo")) as Uint8Array<ArrayBuffer>,
    );
    await put("any.json", "{}");
    const deployed = await api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/yaml" },
      body: `
id: ${pkg}
tenant: ${tenant}
queues: [{id: ${queue}}]
jobs:
  - event: {id: ${event}, schema: {id: s, schemaref: any.json}, supplierqueue: ${queue}, runtime: echo}
runtimes:
  - {id: echo, moduleref: echo.wasm}
`,
    });
    assert.equal(deployed.status, 201, await deployed.text());
    // As large as the listener accepts: 64,560 bytes of JSON, as the queue
    // stores it (MAX_ITEM_BYTES less what the record adds).
    const item = { s: "x".repeat(MAX_ITEM_BYTES - 720) };
    while (JSON.stringify(item).length > MAX_ITEM_BYTES - 720) {
      item.s = item.s.slice(1);
    }
    const sent = await api(`/events/${tenant}/${event}`, {
      method: "POST",
      body: JSON.stringify({ data: [item] }),
    });
    assert.equal(sent.status, 200, await sent.clone().text());
    const [id] = (await sent.json()).ids;
    // The package goes before the event runs: it fails with a long reason.
    const del = await api(`/api/v1/tenants/${tenant}/packages/${pkg}`, {
      method: "DELETE",
    });
    assert.ok(del.ok, await del.text());
    back = await startPlatform({
      kv,
      adminToken,
      port: 0,
      components: ["executor"],
      limits: { retries: 0 },
    });
    const name = queueStorageName({ tenant, queue });
    const deadline = Date.now() + 20_000;
    let letters = (await back.queue.listDead(name)).letters;
    while (letters.length === 0) {
      assert.ok(Date.now() < deadline, "never dead-lettered");
      await new Promise((r) => setTimeout(r, 25));
      letters = (await back.queue.listDead(name)).letters;
    }
    const [letter] = letters;
    assert.equal(letter.item.value.eventId, id);
    assert.deepEqual(letter.item.value.data, item);
    // The letter keeps the reason, cut if it would not fit (as JSON the
    // largest item leaves room for this one: DurableQueue's own tests cut
    // longer ones); the record keeps the whole reason.
    const reason =
      `Package "${pkg}" version 1 no longer declares event "${event}" (was the package deleted?)`;
    const cut = " [cut to fit]";
    assert.ok(
      letter.error === reason ||
        (letter.error.endsWith(cut) &&
          reason.startsWith(letter.error.slice(0, -cut.length))),
      letter.error,
    );
    const record = await back.executions.get(tenant, letter.ref!);
    assert.equal(record?.status, "failed");
    assert.equal(record?.error, reason);
    const stats = await back.queue.stats(name);
    assert.deepEqual([stats.depth, stats.inFlight, stats.dead], [0, 0, 1]);
  } finally {
    await back?.close();
    await front.close();
    kv.close();
  }
});

/**
 * The real KV with a smaller value limit, as another backend could have:
 * an atomic that sets a value over `max` bytes (V8-serialized, as Deno KV
 * measures) throws the error Deno KV throws over its own limit.
 */
function smallValues(kv: Deno.Kv, max: number): Deno.Kv {
  const wrapOp = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    let largest = 0;
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        if (prop === "commit") {
          return () => {
            if (largest > max) {
              return Promise.reject(
                new TypeError(`Value too large (max ${max} bytes)`),
              );
            }
            return target.commit();
          };
        }
        return (...args: unknown[]) => {
          if (prop === "set") {
            largest = Math.max(largest, serialize(args[1]).length);
          }
          const out = v.apply(target, args);
          return out === target ? proxy : out;
        };
      },
    });
    return proxy;
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => wrapOp(target.atomic());
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

test("an outcome the store refuses whatever happens is recorded as failed with the reason, and its event dead-lettered", async (store) => {
  // A result of 9,000 characters fits Deno KV's 64 KiB, not this store's 8.
  const h = await startHarness({
    store,
    leaseMs: 300,
    wrapKv: (kv) => smallValues(kv, 8 * 1024),
  });
  try {
    await deploy(h);
    const [id] = await h.send("px", "big", [9_000]);
    const [after] = await h.send("px", "echo", [{ n: 2 }]);
    const execs = await h.waitFor(
      "px",
      (e) => byEventId(e, id).length === 1 && byEventId(e, after).length === 1,
    );
    const [e] = byEventId(execs, id);
    assert.equal(e.status, "failed");
    assert.equal(
      e.error,
      "The outcome could not be stored: Value too large (max 8192 bytes) (status ok, code 0)",
    );
    assert.equal(e.result, null);
    assert.equal(byEventId(execs, after)[0].status, "ok");
    const stats = await drained(h, "px/work");
    assert.equal(stats.dead, 1);
    const { letters } = await h.platform.queue.listDead("px/work");
    assert.equal(letters[0].item.value.eventId, id);
    assert.equal(letters[0].ref, e.id);
    assert.equal(byEventId(await h.waitFor("px", () => true), id).length, 1);
  } finally {
    await h.close();
  }
});
