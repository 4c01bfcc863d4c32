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

Deno.test("jsonRecords.extend: the stored bytes with members after them, what encoding the spread record writes", () => {
  const records: Record<string, unknown>[] = [
    { id: "0000018c2f3a4b5c-0001", queue: "q", value: { n: 1 }, attempt: 1 },
    { nested: [[], {}, [1, [2, [3]]]], wide: "中文 € 🎉", ctrl: "\u0000\n\t" },
    { big: 1e21, neg: -0, gates: ["a"] },
    { '"}': "}", tail: "}" }, // braces and quotes inside the text
    { one: {} },
  ];
  const memberSets: Record<string, unknown>[] = [
    { leaseUntil: 1_700_000_000_000 },
    { leaseUntil: 5, gates: ["é", "🎉"] },
    { skipped: undefined },
    {},
  ];
  for (const record of records) {
    const stored = jsonRecords.encode(record) as Uint8Array;
    const copy = stored.slice();
    for (const members of memberSets) {
      const want = jsonRecords.encode({ ...record, ...members });
      const got = jsonRecords.extend(stored, record, members);
      assert.deepStrictEqual(got, want, JSON.stringify([record, members]));
      assert.deepStrictEqual(
        jsonRecords.decode(got),
        JSON.parse(JSON.stringify({ ...record, ...members })),
      );
    }
    assert.deepStrictEqual(stored, copy, "the stored bytes are not changed");
  }
});

Deno.test("jsonRecords.extend: a member the record has, an empty record, a V8 value: encoded again", () => {
  // `gates` is the record's: the spread keeps its place (and new value).
  const record = { id: "x", gates: ["old"], n: 1 };
  const stored = jsonRecords.encode(record);
  const got = jsonRecords.extend(stored, record, { gates: ["new"] });
  assert.equal(
    new TextDecoder().decode(got as Uint8Array),
    '{"id":"x","gates":["new"],"n":1}',
  );
  assert.deepStrictEqual(
    jsonRecords.extend(jsonRecords.encode({}), {}, { a: 1 }),
    jsonRecords.encode({ a: 1 }),
  );
  // A record a store wrote as a V8 value before it used JSON.
  const old = { id: "y", value: [1, 2] };
  assert.deepStrictEqual(
    jsonRecords.extend(old, old, { leaseUntil: 3 }),
    jsonRecords.encode({ ...old, leaseUntil: 3 }),
  );
});

Deno.test("v8Records.extend: the spread record", () => {
  const record = { id: "x", n: 1 };
  assert.deepStrictEqual(v8Records.extend(record, record, { leaseUntil: 2 }), {
    id: "x",
    n: 1,
    leaseUntil: 2,
  });
});
