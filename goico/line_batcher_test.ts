import assert from "node:assert/strict";
import { LineBatcher } from "./line_batcher.ts";

/** A batcher whose writes are kept as text, at most `accept` bytes a call. */
function recorded(
  options: { maxChunk?: number; accept?: number; maxDelayMs?: number } = {},
) {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  const lines = new LineBatcher({
    maxChunk: options.maxChunk,
    maxDelayMs: options.maxDelayMs,
    writeSync: (b) => {
      const n = Math.min(b.length, options.accept ?? b.length);
      writes.push(decoder.decode(b.subarray(0, n)));
      return n;
    },
  });
  return { lines, writes };
}

/** Waits for a condition, checking every few ms, for at most 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("LineBatcher: lines wait for maxDelayMs at most and go out together, in order", async () => {
  const { lines, writes } = recorded({ maxDelayMs: 30 });
  const t0 = performance.now();
  lines.add("a");
  lines.add("b");
  lines.add("c");
  assert.deepEqual(writes, []);
  await until(() => writes.length > 0, "the write");
  assert.ok(performance.now() - t0 >= 25, "they waited");
  assert.deepEqual(writes, ["a\nb\nc\n"]);
  lines.add("d");
  await until(() => writes.length > 1, "the second write");
  assert.deepEqual(writes, ["a\nb\nc\n", "d\n"]);
});

Deno.test("LineBatcher: a write's worth of lines goes out at once", () => {
  const { lines, writes } = recorded({ maxChunk: 20 });
  lines.add("123456789");
  assert.deepEqual(writes, []);
  lines.add("abcdefghi");
  assert.deepEqual(writes, ["123456789\nabcdefghi\n"]);
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

Deno.test("LineBatcher attack: lines added without a pause are written a write's worth at a time (memory stays bounded)", () => {
  const writes: number[] = [];
  const lines = new LineBatcher({
    maxChunk: 1000,
    writeSync: (b) => (writes.push(b.length), b.length),
  });
  // One turn that never ends while it logs: the timer never fires.
  for (let i = 0; i < 10_000; i++) lines.add("x".repeat(99));
  assert.equal(writes.length, 1000);
  assert.ok(writes.every((n) => n === 1000));
  lines.flush();
  assert.equal(writes.reduce((a, b) => a + b, 0), 10_000 * 100);
});
