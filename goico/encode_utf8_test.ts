import assert from "node:assert/strict";
import {
  CHUNK_BYTES,
  concatUtf8,
  encodeUtf8,
  MAX_CHUNKED_CHARS,
} from "./encode_utf8.ts";
import { withKv } from "./_test_kv.ts";

const encoder = new TextEncoder();

Deno.test("encodeUtf8 writes what TextEncoder writes, whatever the text", () => {
  const texts = [
    "",
    'plain ascii {"a":1}',
    "é ü ñ", // two bytes each
    "日本語のテキスト", // three
    "emoji 🎉 and 𝄞", // four (a surrogate pair)
    "lone \ud800 and \udfff surrogates", // U+FFFD, three bytes each
    "\u0000\u007f\u0080\u07ff\u0800\uffff",
    "x".repeat(MAX_CHUNKED_CHARS), // the longest that goes into a chunk
    "é".repeat(MAX_CHUNKED_CHARS + 1), // one of its own
    "🎉".repeat(MAX_CHUNKED_CHARS / 2), // 4 bytes a pair, at the limit
  ];
  for (const text of texts) {
    assert.deepStrictEqual(
      encodeUtf8(text),
      encoder.encode(text),
      text.slice(0, 20),
    );
  }
});

Deno.test("encodeUtf8's bytes are never written again by later calls", () => {
  // Enough text to fill several chunks, in calls of every size and width.
  const made: [string, Uint8Array][] = [];
  let total = 0;
  for (let i = 0; total < 4 * CHUNK_BYTES; i++) {
    const unit = ["a", "é", "日", "🎉", "\ud800"][i % 5];
    const text = `${i}:` + unit.repeat(i % 997);
    const bytes = encodeUtf8(text);
    made.push([text, bytes]);
    total += bytes.length;
  }
  for (const [text, bytes] of made) {
    assert.deepStrictEqual(
      bytes,
      encoder.encode(text),
      `call for ${text.slice(0, 12)}`,
    );
  }
  // Views of one chunk never overlap.
  const byBuffer = new Map<ArrayBufferLike, [number, number][]>();
  for (const [, b] of made) {
    const spans = byBuffer.get(b.buffer) ?? [];
    spans.push([b.byteOffset, b.byteOffset + b.length]);
    byBuffer.set(b.buffer, spans);
  }
  assert(byBuffer.size > 1, "the calls filled more than one chunk");
  for (const spans of byBuffer.values()) {
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      assert(spans[i][0] >= spans[i - 1][1], "two views overlap");
    }
  }
});

Deno.test("encodeUtf8 gives long text an array of its own", () => {
  const long = encodeUtf8("y".repeat(MAX_CHUNKED_CHARS + 1));
  assert.deepStrictEqual(long.byteOffset, 0);
  assert.deepStrictEqual(long.buffer.byteLength, MAX_CHUNKED_CHARS + 1);
  const short = encodeUtf8("short");
  assert.deepStrictEqual(short.buffer.byteLength, CHUNK_BYTES);
});

Deno.test("Deno KV stores a view's own bytes, not its chunk's", async () => {
  await withKv(async (kv) => {
    const values = ["first", "second é", "third 🎉"].map(encodeUtf8);
    assert(values[1].byteOffset > 0, "a view inside its chunk");
    const op = kv.atomic();
    values.forEach((v, i) => op.set(["v", i], v));
    assert((await op.commit()).ok);
    for (let i = 0; i < values.length; i++) {
      const got = await kv.get<Uint8Array>(["v", i]);
      assert.deepStrictEqual(got.value, values[i]);
      assert.deepStrictEqual(got.value!.length, values[i].length);
    }
  });
});

Deno.test("concatUtf8 writes the head's bytes then the text's, in a chunk or an array of their own", () => {
  const heads = [
    new Uint8Array(0),
    encoder.encode('{"id":"x","é":"日本"'),
    encoder.encode("h".repeat(MAX_CHUNKED_CHARS)), // the longest in a chunk
    encoder.encode("h".repeat(MAX_CHUNKED_CHARS + 1)), // an array of its own
    encoder.encode("z".repeat(60_000)), // a whole large record
  ];
  const texts = [
    "",
    ',"leaseUntil":1700000000000}',
    ',"gates":["é","🎉","lone \ud800"]}',
    "t".repeat(MAX_CHUNKED_CHARS + 1),
  ];
  const made: [Uint8Array, Uint8Array][] = [];
  for (const head of heads) {
    for (const text of texts) {
      const want = new Uint8Array([...head, ...encoder.encode(text)]);
      const got = concatUtf8(head, text);
      assert.deepStrictEqual(got, want, `${head.length} + ${text.length}`);
      made.push([got, want]);
    }
  }
  // Later calls never wrote over earlier ones.
  for (const [got, want] of made) assert.deepStrictEqual(got, want);
  // Short ones share a chunk; a copy, not the head itself.
  const head = encoder.encode("head");
  const short = concatUtf8(head, "tail");
  assert.deepStrictEqual(short.buffer.byteLength, CHUNK_BYTES);
  head[0] = 0;
  assert.deepStrictEqual(short, encoder.encode("headtail"));
});
