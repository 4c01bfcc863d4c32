import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { jsonRecords, v8Records } from "./record_codec.ts";

const RECORDS: unknown[] = [
  { id: "0000018c2f3a4b5c-0001", n: 1, s: "Ada", ok: true, none: null },
  { nested: [[], {}, [1, [2, [3]]]], wide: "中文 € 🎉", ctrl: "\u0000\n\t" },
  "just a string",
  [1.5, -2, 1e21, "x"],
];

Deno.test("jsonRecords: records come back equal, stored as UTF-8 JSON bytes of the size it says", () => {
  for (const r of RECORDS) {
    const stored = jsonRecords.encode(r);
    assert.ok(stored instanceof Uint8Array);
    assert.deepEqual(jsonRecords.decode(stored), r);
    assert.equal(jsonRecords.exactSize(r), stored.length);
    assert.equal(jsonRecords.size(r), stored.length);
  }
});

Deno.test("jsonRecords: a record stored as a V8 value before is read as it is", () => {
  const old = { id: "x", value: { data: [1, 2] } };
  assert.equal(jsonRecords.decode(old), old);
});

Deno.test("jsonRecords: a character takes at least one byte; v8Records: two in a wide string", () => {
  assert.equal(jsonRecords.charBytes("€ abc"), 1);
  assert.equal(v8Records.charBytes("€ abc"), 2);
  assert.equal(v8Records.charBytes("é abc"), 1);
});

Deno.test("v8Records: stored as they are; size bounds the serializer's, exactSize is it", () => {
  for (const r of RECORDS) {
    assert.equal(v8Records.encode(r), r);
    assert.equal(v8Records.decode(r), r);
    assert.equal(v8Records.exactSize(r), serialize(r).length);
    assert.ok(v8Records.size(r) >= serialize(r).length);
  }
});
