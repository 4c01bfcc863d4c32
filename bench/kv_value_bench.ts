/**
 * What storing a queue's record costs as a V8 value (Deno KV serializes
 * every value with V8's serializer) and as JSON bytes (goico's
 * `jsonRecords`): the writes of one atomic (`set`, which serializes at
 * once; no commit) and the read of a stored value back into a record;
 * and the record's JSON text to bytes, each call an array of its own
 * (`TextEncoder.encode`) or a view of a shared chunk (goico's
 * `encodeUtf8`, which `jsonRecords` uses). The record is an event item as
 * the listener queues it.
 *
 * Run: deno bench --allow-read --allow-write bench/kv_value_bench.ts
 */
import { deserialize, serialize } from "node:v8";
import { encodeUtf8, jsonRecords } from "@jobico/goico";
import { queuedRecord } from "./_queued_record.ts";

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
