import assert from "node:assert/strict";
import { LineBatcher } from "./line_batcher.ts";

/** A batcher whose writes are kept as text, at most `accept` bytes a call. */
function recorded(options: { maxChunk?: number; accept?: number } = {}) {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  const lines = new LineBatcher({
    maxChunk: options.maxChunk,
    writeSync: (b) => {
      const n = Math.min(b.length, options.accept ?? b.length);
      writes.push(decoder.decode(b.subarray(0, n)));
      return n;
    },
  });
  return { lines, writes };
}

/** The end of this turn of the event loop (a timer set after the batcher's). */
const nextTurn = () => new Promise((r) => setTimeout(r, 0));

Deno.test("LineBatcher: the lines of one turn go out together, in order, at its end", async () => {
  const { lines, writes } = recorded();
  lines.add("a");
  lines.add("b");
  lines.add("c");
  assert.deepEqual(writes, []);
  await nextTurn();
  assert.deepEqual(writes, ["a\nb\nc\n"]);
  lines.add("d");
  await nextTurn();
  assert.deepEqual(writes, ["a\nb\nc\n", "d\n"]);
});

Deno.test("LineBatcher: a line that must not wait goes out at once, after those before it", () => {
  const { lines, writes } = recorded();
  lines.add("info 1");
  lines.add("info 2");
  lines.now("error");
  assert.deepEqual(writes, ["info 1\ninfo 2\nerror\n"]);
});

Deno.test("LineBatcher: a write holds whole lines and at most maxChunk bytes; a longer line goes alone", () => {
  const { lines, writes } = recorded({ maxChunk: 10 });
  for (const l of ["1234", "5678", "9", "a-line-longer-than-10", "é€"]) {
    lines.add(l);
  }
  lines.flush();
  assert.deepEqual(writes, [
    "1234\n5678\n",
    "9\n",
    "a-line-longer-than-10\n",
    "é€\n",
  ]);
  for (const w of writes) {
    assert.ok(w.endsWith("\n"));
  }
});

Deno.test("LineBatcher: writes that take only part of the bytes are finished", () => {
  const { lines, writes } = recorded({ accept: 3 });
  lines.now("abcdefgh");
  assert.equal(writes.join(""), "abcdefgh\n");
  assert.deepEqual(writes, ["abc", "def", "gh\n"]);
});

Deno.test("LineBatcher attack: lines added faster than turns end are written once maxWaiting characters wait", () => {
  const writes: number[] = [];
  const lines = new LineBatcher({
    maxWaiting: 1000,
    writeSync: (b) => (writes.push(b.length), b.length),
  });
  // One turn that never ends while it logs: memory stays bounded.
  for (let i = 0; i < 10_000; i++) lines.add("x".repeat(99));
  assert.ok(writes.length >= 990, `${writes.length} writes`);
  lines.flush();
  assert.equal(writes.reduce((a, b) => a + b, 0), 10_000 * 100);
});
