import assert from "node:assert/strict";
import { breakdown, type CallFrame, categorize } from "./_breakdown.ts";

const P = "file:///work/jobico/";
const NPM = "file:///root/.cache/deno/npm/registry.npmjs.org/";
const f = (functionName: string, url = "", lineNumber = 0): CallFrame => ({
  functionName,
  url,
  lineNumber,
});

Deno.test("categorize: the runtime work a step calls counts for that step", () => {
  // A header read for the token check: Deno's code under authenticator.ts.
  assert.equal(
    categorize([
      f("op_http_get_request_header"),
      f("get", "ext:deno_fetch/20_headers.js"),
      f("principal", `${P}components/authenticator.ts`),
      f("check", `${P}components/listener/webhook_auth.ts`),
    ]),
    "auth",
  );
  // The stream read under read_body.ts.
  assert.equal(
    categorize([
      f("readableStreamReaderGenericRelease", "ext:deno_web/06_streams.js"),
      f("readBytes", `${P}components/read_body.ts`),
    ]),
    "body read",
  );
});

Deno.test("categorize: the KV's serializer, its commit op and the GC count wherever they are", () => {
  const underCommit = [
    f("set", "ext:deno_kv/01_db.ts"),
    f("write", `${P}goico/durable_queue.ts`),
    f("#commit", `${P}goico/group_commit.ts`),
  ];
  assert.equal(
    categorize([
      f("op_serialize"),
      f("serialize", "ext:core/01_core.js"),
      f("serializeValue", "ext:deno_kv/01_db.ts"),
      ...underCommit,
    ]),
    "KV value serialization",
  );
  assert.equal(
    categorize([f("op_kv_atomic_write"), ...underCommit]),
    "KV commit op (synchronous part)",
  );
  assert.equal(categorize(underCommit), "group commit and queue writes (JS)");
  assert.equal(categorize([f("(garbage collector)")]), "garbage collector");
});

Deno.test("categorize: the executor's work counts for it, the KV ops it calls included", () => {
  const lane = f("#step", `${P}components/executor/_lane.ts`);
  assert.equal(
    categorize([
      f("op_kv_atomic_write"),
      f("commit", "ext:deno_kv/01_db.ts"),
      f("commit", `${P}goico/write_batch.ts`),
      lane,
    ]),
    "executor (leases, runs, records)",
  );
  assert.equal(
    categorize([
      f("serializeValue", "ext:deno_kv/01_db.ts"),
      f("record", `${P}components/executions/execution_store.ts`),
    ]),
    "executor (leases, runs, records)",
  );
  // A sandbox Worker's answer, delivered by the runtime.
  assert.equal(
    categorize([
      f("deserializeMessageData", "ext:deno_web/13_message_port.js"),
      f("#pollMessages", "ext:runtime/11_workers.js"),
    ]),
    "executor (leases, runs, records)",
  );
  // The listener's own commit is still the listener's.
  assert.equal(
    categorize([
      f("op_kv_atomic_write"),
      f("#commit", `${P}goico/group_commit.ts`),
    ]),
    "KV commit op (synchronous part)",
  );
});

Deno.test("categorize: packages, Ajv's validators, and stacks of the runtime alone", () => {
  assert.equal(
    categorize([f("inc", `${NPM}prom-client/15.1.3/lib/counter.js`)]),
    "metrics",
  );
  assert.equal(
    categorize([f("json", `${NPM}hono/4.13.19/dist/context.js`)]),
    "response (Hono c.json)",
  );
  assert.equal(
    categorize([
      f("match", `${NPM}hono/4.13.19/dist/router/reg-exp-router/router.js`),
    ]),
    "routing (Hono dispatch, route cache, names)",
  );
  assert.equal(
    categorize([f("validate21"), f("", `${P}components/listener/listener.ts`)]),
    "schema validation",
  );
  assert.equal(
    categorize([
      f("op_write_sync"),
      f("writeSync", "ext:deno_io/12_io.js"),
      f("", `${P}goico/logger.ts`),
    ]),
    "request log line",
  );
  assert.equal(
    categorize([
      f("op_http_set_response_body_text"),
      f("mapped", "ext:deno_http/00_serve.ts"),
    ]),
    "HTTP server (Deno: request in, response out)",
  );
  assert.equal(categorize([f("(program)")]), "runtime (other)");
  assert.equal(categorize([f("(idle)")]), "idle");
});

Deno.test("breakdown: only samples within the window count, by time", () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: f("(root)"), children: [2, 3] },
      { id: 2, callFrame: f("(idle)") },
      { id: 3, callFrame: f("monotonicId", `${P}goico/monotonic_id.ts`) },
    ],
    samples: [2, 3, 3, 2, 3],
    timeDeltas: [1000, 1000, 2000, 1000, 1000],
    startTime: 10_000,
    endTime: 16_000,
  };
  // Samples at 11, 12, 14, 15 and 16 ms; the window takes 12 to 15.
  const b = breakdown(profile, 12_000, 15_000);
  assert.equal(b.samples, 3);
  assert.equal(b.windowMs, 4);
  assert.equal(b.ms.ids, 3);
  assert.equal(b.ms.idle, 1);
});
