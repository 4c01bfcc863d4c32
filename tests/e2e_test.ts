/**
 * The whole pipeline over real HTTP: upload, deploy, send, execute, record,
 * chain, stream; and the ways a client gets it wrong.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { deployGreet, startHarness, storeTest as test } from "./_harness.ts";

test("an event runs through its Jobicolet and chains its result", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    const [id] = await h.send("demo", "greet", [{ name: "Ada" }]);
    const execs = await h.waitFor(
      "demo",
      (e) => e.some((x) => x.event === "greeted"),
    );
    const greet = execs.find((e) => e.eventId === id)!;
    assert.equal(greet.status, "ok");
    assert.equal(greet.code, 0);
    assert.equal(greet.result, '{"greeting":"Hello, Ada!"}');
    assert.equal(greet.queue, "greetings");
    assert.equal(greet.package, "greet");
    assert.equal(greet.attempt, 1);
    assert.equal(greet.error, null);
    assert.ok(!Number.isNaN(Date.parse(greet.startedAt)));
    assert.equal(typeof greet.durationMs, "number");
    assert.deepEqual(greet.logs, [
      { level: "info", source: "module", message: "greeting Ada" },
      { level: "info", source: "stdout", message: "greet: handled Ada" },
    ]);
    assert.deepEqual(Object.keys(greet).sort(), [
      "attempt",
      "code",
      "durationMs",
      "error",
      "event",
      "eventId",
      "id",
      "input",
      "logs",
      "package",
      "queue",
      "result",
      "startedAt",
      "status",
      "tenant",
      "version",
    ]);
    assert.equal(greet.version, 1);
    // The ok result became a "greeted" event, run by the AssemblyScript module (ABI ver 1).
    const greeted = execs.find((e) => e.event === "greeted")!;
    assert.equal(greeted.status, "ok");
    assert.equal(greeted.queue, "audit");
    assert.match(greeted.logs[0].message, /"greeting":"Hello, Ada!"/);
    assert.match(greeted.logs[0].message, new RegExp(`"eventId":"${id}"`));
    assert.ok(!execs.some((e) => e.event === "greet-failed"));
  } finally {
    await h.close();
  }
});

test("a non-zero code is an error and follows result.error", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    const [id] = await h.send("demo", "greet", [{ name: "Voldemort" }]);
    const execs = await h.waitFor(
      "demo",
      (e) => e.some((x) => x.event === "greet-failed"),
    );
    const greet = execs.find((e) => e.eventId === id)!;
    assert.equal(greet.status, "error");
    assert.equal(greet.code, 1);
    assert.equal(
      greet.result,
      "no greeting for Voldemort: name is on the block list",
    );
    const failed = execs.find((e) => e.event === "greet-failed")!;
    assert.match(failed.logs[0].message, /"code":1/);
    assert.ok(!execs.some((e) => e.event === "greeted"));
  } finally {
    await h.close();
  }
});

test("a trapping module is recorded as failed and routed to result.error, never ok", async (store) => {
  const h = await startHarness({ store });
  try {
    await h.upload("t1", "trap.wasm", await compileWat("trap"));
    await h.upload("t1", "echo.wasm", await compileWat("echo"));
    await h.upload("t1", "any.json", JSON.stringify({ type: "object" }));
    await h.deploy(`
id: traps
tenant: t1
queues: [{id: q}]
jobs:
  - event: {id: boom, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: trap}
    result:
      item: envelope
      ok: {id: boom-ok, schema: {id: s1, schemaref: any.json}, supplierqueue: q, runtime: echo}
      error: {id: boom-err, schema: {id: s2, schemaref: any.json}, supplierqueue: q, runtime: echo}
runtimes:
  - {id: trap, moduleref: trap.wasm, retries: 0}
  - {id: echo, moduleref: echo.wasm}
`);
    const ids = await h.send("t1", "boom", [{ n: 1 }, { n: 2 }]);
    const execs = await h.waitFor(
      "t1",
      (e) => e.filter((x) => x.event === "boom-err").length === 2,
    );
    for (const id of ids) {
      const boom = execs.find((e) => e.eventId === id)!;
      assert.equal(boom.status, "failed");
      assert.equal(boom.code, null);
      assert.match(boom.error!, /^trap: /);
      // What the module logged before it trapped is kept.
      assert.deepEqual(boom.logs, [{
        level: "info",
        source: "module",
        message: "about to trap",
      }, {
        level: "error",
        source: "host",
        message:
          'Moved to the dead letters of queue "q" after 1 failed attempt',
      }]);
    }
    assert.ok(!execs.some((e) => e.event === "boom-ok"));
    const chained = JSON.parse(
      execs.find((e) => e.event === "boom-err")!.result!,
    );
    assert.equal(chained.code, null);
    assert.match(chained.error, /^trap: /);
  } finally {
    await h.close();
  }
});

test("by default a failed execution sends its reason to result.error, the code and source beside it", async (store) => {
  const h = await startHarness({ store });
  try {
    await h.upload("t1", "trap.wasm", await compileWat("trap"));
    await h.upload("t1", "echo.wasm", await compileWat("echo"));
    await h.upload("t1", "any.json", JSON.stringify({ type: "object" }));
    await h.upload("t1", "text.json", JSON.stringify({ type: "string" }));
    await h.deploy(`
id: traps
tenant: t1
queues: [{id: q}]
jobs:
  - event: {id: boom, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: trap}
    result:
      error: {id: boom-err, schema: {id: s2, schemaref: text.json}, supplierqueue: q, runtime: echo}
runtimes:
  - {id: trap, moduleref: trap.wasm, retries: 0}
  - {id: echo, moduleref: echo.wasm}
`);
    const [id] = await h.send("t1", "boom", [{ n: 1 }]);
    const execs = await h.waitFor(
      "t1",
      (e) => e.some((x) => x.event === "boom-err"),
    );
    const boom = execs.find((e) => e.eventId === id)!;
    const err = execs.find((e) => e.event === "boom-err")!;
    // The echo module returns its input: the item was the reason itself.
    assert.equal(JSON.parse(err.result!), boom.error);
    assert.deepEqual(err.chainedFrom, {
      event: "boom",
      eventId: id,
      executionId: boom.id,
      code: null,
      error: boom.error,
    });
  } finally {
    await h.close();
  }
});

test("a schema-invalid item gets a 400 naming the item and the field, and nothing is queued", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    const res = await h.api("/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [{ name: "Ada" }, { name: 42 }] }),
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const body = await res.json();
    assert.match(body.detail, /Item 1 .*greet\.schema\.json.*\/name/);
    assert.deepEqual(body.errors, [{
      item: 1,
      path: "/name",
      message: "must be string",
    }]);
    assert.partialDeepStrictEqual(
      await h.platform.queue.stats("demo/greetings"),
      {
        depth: 0,
        inFlight: 0,
      },
    );
    assert.equal(
      (await (await h.api("/api/v1/tenants/demo/executions")).json()).executions
        .length,
      0,
    );
  } finally {
    await h.close();
  }
});

test("unknown tenants and events get 404s that name them", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    const post = (path: string) =>
      h.api(path, { method: "POST", body: '{"data":[{"name":"x"}]}' }).then(
        async (r) => [r.status, (await r.json()).detail],
      );
    assert.deepEqual(await post("/events/nobody/greet"), [
      404,
      'Unknown tenant "nobody"',
    ]);
    assert.deepEqual(await post("/events/demo/nothing"), [
      404,
      'Tenant "demo" has no event "nothing"',
    ]);
    const res = await h.api("/api/v1/tenants/demo/packages/nothing");
    assert.equal(res.status, 404);
    assert.match((await res.json()).detail, /"nothing"/);
  } finally {
    await h.close();
  }
});

test("malformed bodies get 400s that say what is wrong", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    const cases: [string, RegExp][] = [
      ["{not json", /not valid JSON/],
      ['{"items": []}', /"data" list/],
      ['{"data": []}', /empty/],
      ['[{"name":"x"}]', /"data" list/],
      ['{"data": {"name": "x"}}', /"data" list/],
    ];
    for (const [body, detail] of cases) {
      const res = await h.api("/events/demo/greet", { method: "POST", body });
      assert.equal(res.status, 400, body);
      assert.match((await res.json()).detail, detail, body);
    }
    const big = await h.api("/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [{ name: "x".repeat(2 * 1024 * 1024) }] }),
    });
    assert.equal(big.status, 413);
    await big.body?.cancel();
    const bytes = await h.api("/events/demo/greet", {
      method: "POST",
      body: new Uint8Array([0xff, 0xfe, 0x7b]),
    });
    assert.equal(bytes.status, 400);
    assert.match((await bytes.json()).detail, /UTF-8/);
    assert.partialDeepStrictEqual(
      await h.platform.queue.stats("demo/greetings"),
      {
        depth: 0,
        inFlight: 0,
      },
    );
  } finally {
    await h.close();
  }
});

test("with an admin token, requests without it or with a wrong one get 401", async (store) => {
  const h = await startHarness({ store, adminToken: "s3cret-admin-token" });
  try {
    await deployGreet(h);
    const paths: [string, RequestInit][] = [
      ["/api/v1/tenants/demo/packages", {}],
      ["/api/v1/tenants/demo/files", {}],
      ["/api/v1/tenants/demo/executions", {}],
      ["/api/v1/packages", { method: "POST", body: "id: x" }],
      ["/api/v1/tenants/demo/files/x.json", { method: "PUT", body: "{}" }],
      ["/events/demo/greet", {
        method: "POST",
        body: '{"data":[{"name":"x"}]}',
      }],
    ];
    for (const [path, init] of paths) {
      for (
        const auth of [
          undefined,
          "Bearer wrong",
          "Basic czNjcmV0",
          "Bearer s3cret2",
        ]
      ) {
        const res = await fetch(h.url + path, {
          ...init,
          headers: auth ? { authorization: auth } : {},
        });
        assert.equal(res.status, 401, `${path} ${auth}`);
        assert.equal(
          res.headers.get("content-type"),
          "application/problem+json",
        );
        await res.body?.cancel();
      }
    }
    assert.equal((await h.api("/api/v1/tenants/demo/packages")).status, 200);
    // Health and meta stay open for probes.
    assert.equal((await fetch(h.url + "/healthz")).status, 200);
    assert.equal((await (await fetch(h.url + "/meta")).json()).name, "jobico");
    assert.partialDeepStrictEqual(
      await h.platform.queue.stats("demo/greetings"),
      {
        depth: 0,
        inFlight: 0,
      },
    );
  } finally {
    await h.close();
  }
});

test("a redeploy that changes the schema takes effect without a restart", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    const item = { name: "Ada", mood: "happy" };
    const before = await h.api("/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [item] }),
    });
    assert.equal(before.status, 400);
    assert.match((await before.json()).detail, /"mood" is not allowed/);
    const schema = JSON.parse(
      await Deno.readTextFile(
        new URL("../examples/greet/greet.schema.json", import.meta.url),
      ),
    );
    schema.properties.mood = { type: "string" };
    await h.upload("demo", "greet-v2.schema.json", JSON.stringify(schema));
    const yaml = (await Deno.readTextFile(
      new URL("../examples/greet/job.yaml", import.meta.url),
    ))
      .replace(
        "schemaref: greet.schema.json",
        "schemaref: greet-v2.schema.json",
      );
    const dep = await h.deploy(yaml);
    assert.equal(dep.version, 2);
    // The listener follows the definition stream: the new schema applies within moments.
    const deadline = Date.now() + 5000;
    let status = 0;
    while (Date.now() < deadline) {
      const res = await h.api("/events/demo/greet", {
        method: "POST",
        body: JSON.stringify({ data: [item] }),
      });
      status = res.status;
      await res.body?.cancel();
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(status, 200);
    const execs = await h.waitFor(
      "demo",
      (e) => e.some((x) => x.event === "greet" && x.status === "ok"),
    );
    // Each record says which version ran it: the one the event was
    // accepted under (its chained result too).
    const greet = execs.find((x) => x.event === "greet")!;
    assert.equal(greet.package, "greet");
    assert.equal(greet.version, 2);
    const chained = await h.waitFor(
      "demo",
      (e) => e.some((x) => x.event === "greeted"),
    );
    assert.equal(chained.find((x) => x.event === "greeted")!.version, 2);
  } finally {
    await h.close();
  }
});

test("executions stream live over Server-Sent Events", async (store) => {
  const h = await startHarness({ store });
  try {
    await deployGreet(h);
    const res = await h.api(
      "/api/v1/tenants/demo/executions/stream?event=greet",
    );
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const [id] = await h.send("demo", "greet", [{ name: "Grace" }]);
    let text = "";
    while (!text.includes(id)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const msg = text.split("\n\n").find((m) => m.includes(id))!;
    assert.match(msg, /^event: execution$/m);
    const data = JSON.parse(
      msg.split("\n").find((l) => l.startsWith("data: "))!.slice(6),
    );
    assert.equal(data.eventId, id);
    assert.equal(data.status, "ok");
    // The filter keeps the chained "greeted" execution out.
    assert.ok(!text.includes('"event":"greeted"'));
  } finally {
    await h.close();
  }
});

test("a Jobicolet in an infinite loop is stopped by its instruction budget and the platform keeps running", async (store) => {
  const h = await startHarness({ store, limits: { fuel: 5_000_000 } });
  try {
    await deployGreet(h);
    await h.upload("demo", "spin.wasm", await compileWat("spin"));
    await h.upload("demo", "echo.wasm", await compileWat("echo"));
    await h.deploy(`
id: spinner
tenant: demo
queues: [{id: spins}]
jobs:
  - event: {id: spin, schema: {id: s, schemaref: result.schema.json}, supplierqueue: spins, runtime: spin}
    result:
      item: envelope
      error: {id: spin-failed, schema: {id: s2, schemaref: result.schema.json}, supplierqueue: spins, runtime: echo}
runtimes:
  - {id: spin, moduleref: spin.wasm, retries: 0}
  - {id: echo, moduleref: echo.wasm}
`);
    const item = {
      code: 0,
      result: null,
      source: { event: "x", eventId: "y", executionId: "z" },
    };
    const [spinId] = await h.send("demo", "spin", [item]);
    const [greetId] = await h.send("demo", "greet", [{ name: "Ada" }]);
    const execs = await h.waitFor(
      "demo",
      (e) =>
        e.some((x) => x.event === "spin-failed") &&
        e.some((x) => x.eventId === greetId),
    );
    const spin = execs.find((e) => e.eventId === spinId)!;
    assert.equal(spin.status, "failed");
    assert.match(
      spin.error!,
      /^fuel exhausted: the module ran more than 5000000 instructions$/,
    );
    assert.deepEqual(spin.logs.filter((l) => l.source === "module"), [{
      level: "info",
      source: "module",
      message: "spinning",
    }]);
    assert.ok(execs.some((e) => e.eventId === greetId && e.status === "ok"));
    // The next event gets a fresh instance and is stopped the same way.
    const [again] = await h.send("demo", "spin", [item]);
    const later = await h.waitFor(
      "demo",
      (e) => e.some((x) => x.eventId === again),
    );
    assert.match(
      later.find((e) => e.eventId === again)!.error!,
      /^fuel exhausted/,
    );
  } finally {
    await h.close();
  }
});

test("a module that cannot be metered is refused at upload with the reason", async (store) => {
  const h = await startHarness({ store });
  try {
    // A SIMD instruction (v128.const) in the only function body.
    const simd = new Uint8Array([
      0x00,
      0x61,
      0x73,
      0x6d,
      0x01,
      0x00,
      0x00,
      0x00, // magic, version
      0x01,
      0x04,
      0x01,
      0x60,
      0x00,
      0x00, // type: () -> ()
      0x03,
      0x02,
      0x01,
      0x00, // func 0: type 0
      0x0a,
      0x17,
      0x01,
      0x15,
      0x00,
      0xfd,
      0x0c,
      ...new Array(16).fill(0),
      0x1a,
      0x0b, // v128.const 0; drop; end
    ]);
    assert.ok(WebAssembly.validate(simd));
    const res = await h.api("/api/v1/tenants/demo/files/simd.wasm", {
      method: "PUT",
      body: simd,
    });
    assert.equal(res.status, 400);
    assert.match(
      (await res.json()).detail,
      /Module "simd\.wasm" cannot run within the sandbox.s limits: .*0xfd/,
    );
  } finally {
    await h.close();
  }
});
