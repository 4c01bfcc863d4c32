/**
 * What storing a queue's record costs as a V8 value (Deno KV serializes
 * every value with V8's serializer) and as JSON bytes (goico's
 * `jsonRecords`): the writes of one atomic (`set`, which serializes at
 * once; no commit) and the read of a stored value back into a record;
 * and the record's JSON text to bytes, each call an array of its own
 * (`TextEncoder.encode`) or a view of a shared chunk (goico's
 * `encodeUtf8`, which `jsonRecords` uses). The record is an event item as
 * the listener queues it. The same for an execution record as the executor
 * writes it (components/executions/execution_value.ts).
 *
 * Run: deno bench --allow-read --allow-write bench/kv_value_bench.ts
 */
import { deserialize, serialize } from "node:v8";
import { encodeUtf8, jsonRecords } from "@jobico/goico";
import { queuedRecord } from "./_queued_record.ts";
import type { Execution } from "../components/executions/execution.ts";
import {
  executionJson,
  executionOf,
} from "../components/executions/execution_value.ts";

const kv = await Deno.openKv(":memory:");
const record = queuedRecord("0000018c2f3a4b5c-00000001");
const key = ["queue", "ready", "bench/pings", record.id];

Deno.bench("set a V8 value", { group: "write", baseline: true }, () => {
  kv.atomic().set(key, record);
});
Deno.bench("set JSON bytes (encode + set)", { group: "write" }, () => {
  kv.atomic().set(key, jsonRecords.encode(record));
});

const asV8 = serialize(record);
const asJson = jsonRecords.encode(record);
Deno.bench("read a V8 value", { group: "read", baseline: true }, () => {
  deserialize(asV8);
});
Deno.bench("read JSON bytes", { group: "read" }, () => {
  jsonRecords.decode(asJson);
});

const text = JSON.stringify(record);
const textEncoder = new TextEncoder();
Deno.bench("TextEncoder.encode", { group: "encode", baseline: true }, () => {
  textEncoder.encode(text);
});
Deno.bench("encodeUtf8 (a view of a shared chunk)", { group: "encode" }, () => {
  encodeUtf8(text);
});

// An execution record as the executor writes it (ExecutionStore.record):
// its input, a result, two log lines.
const execution: Execution = {
  id: "0000018c2f3a4b5d-00000002",
  eventId: record.id,
  tenant: "bench",
  package: "pings",
  version: 1,
  event: "ping",
  queue: "pings",
  status: "ok",
  code: 0,
  result: '{"pong":true,"n":42}',
  error: null,
  logs: [
    { level: "info", source: "module", message: "got ping 42" },
    { level: "debug", source: "stdout", message: "done in 1 step" },
  ],
  attempt: 1,
  startedAt: "2026-12-05T23:50:00.000Z",
  durationMs: 0.12,
  input: { n: 42, from: "bench", tags: ["a", "b"] },
};
const execKey = ["exec", "bench", execution.id];
Deno.bench("set an execution record as a V8 value", {
  group: "execution",
  baseline: true,
}, () => {
  kv.atomic().set(execKey, execution);
});
Deno.bench("set an execution record as JSON bytes (executionJson + set)", {
  group: "execution",
}, () => {
  kv.atomic().set(execKey, executionJson(execution, 60 * 1024));
});
const execV8 = serialize(execution);
const execJson = executionJson(execution, 60 * 1024);
Deno.bench("read an execution record, V8", {
  group: "execution read",
  baseline: true,
}, () => {
  deserialize(execV8);
});
Deno.bench("read an execution record, JSON bytes (executionOf)", {
  group: "execution read",
}, () => {
  executionOf(execJson);
});
