import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { kvValueSize } from "./kv_value_size.ts";

const samples: [string, unknown][] = [
  ["null", null],
  ["numbers", [0, 1, -1, 2 ** 31, 1.5, Number.MAX_SAFE_INTEGER, NaN]],
  ["strings", ["", "ab", "é", "€", "a€", "😀", "x".repeat(200), "lone \ud800"]],
  ["booleans", [true, false, undefined]],
  ["object", { a: 1, b: "x", c: { d: [1, "é", null] }, 7: "index key" }],
  ["empty", [{}, []]],
  ["bigint", [1n, 2n ** 70n]],
  ["date", new Date(0)],
  ["bytes", new Uint8Array(100)],
  ["record", {
    id: "0mx7l8b5g000frx9rb5",
    tenant: "t".repeat(64),
    status: "ok",
    code: 0,
    result: '{"greeting":"Hello, Ada!"}',
    error: null,
    logs: [{ level: "info", source: "module", message: "hi 🎉" }],
    attempt: 1,
    durationMs: 0.123,
  }],
  ["wide log", { logs: [{ message: "x".repeat(30_000) + "€" }] }],
  ["long array", Array.from({ length: 20_000 }, (_, i) => `${i}`)],
];

Deno.test("kvValueSize: never less than the serializer writes, and close to it", () => {
  for (const [name, v] of samples) {
    const exact = serialize(v).length;
    const bound = kvValueSize(v);
    assert.ok(bound >= exact, `${name}: ${bound} < ${exact}`);
    assert.ok(
      bound <= exact * 1.5 + 16,
      `${name}: ${bound} is far above ${exact}`,
    );
  }
});

Deno.test("kvValueSize: strings are exact, and one wide character doubles them", () => {
  for (
    const s of ["plain", "é", "x".repeat(70_000), "€" + "x".repeat(40_000)]
  ) {
    assert.equal(kvValueSize(s), serialize(s).length + (/€/.test(s) ? 1 : 0));
  }
  assert.ok(kvValueSize("€" + "x".repeat(40_000)) > 80_000);
});

Deno.test("kvValueSize: agrees with what the KV accepts at its limit", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // The largest value the KV takes is 65,536 bytes serialized.
    const fits = { v: "x".repeat(65_524) };
    assert.ok(kvValueSize(fits) <= 65_536 + 16);
    await kv.set(["k"], fits);
    const over = { v: "x".repeat(65_525) };
    assert.ok(kvValueSize(over) > 65_536);
    await assert.rejects(kv.set(["k"], over), /Value too large/);
  } finally {
    kv.close();
  }
});

Deno.test("kvValueSize: never less than the serializer writes, for 2,000 random JSON values", () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const str = () =>
    Array.from(
      { length: Math.floor(rand() * 40) },
      () =>
        String.fromCodePoint(
          pick([0x61, 0xe9, 0x20ac, 0x1f600, 0x7f, 0xff, 0x100]) +
            Math.floor(rand() * 3),
        ),
    ).join("");
  const value = (depth: number): unknown => {
    const kind = depth > 3 ? pick([0, 1, 2, 3]) : pick([0, 1, 2, 3, 4, 5]);
    switch (kind) {
      case 0:
        return str();
      case 1:
        return pick([0, -1, 7, 2 ** 30, -(2 ** 30) - 1, 0.5, -0, 1e300]) *
          (rand() < 0.5 ? 1 : Math.floor(rand() * 1000));
      case 2:
        return pick([true, false, null]);
      case 3:
        return Math.floor(rand() * 2 ** 31);
      case 4:
        return Array.from(
          { length: Math.floor(rand() * 6) },
          () => value(depth + 1),
        );
      default:
        return Object.fromEntries(
          Array.from(
            { length: Math.floor(rand() * 6) },
            (_, i) => [rand() < 0.2 ? String(i) : str(), value(depth + 1)],
          ),
        );
    }
  };
  for (let i = 0; i < 2_000; i++) {
    const v = value(0);
    const exact = serialize(v).length;
    assert.ok(kvValueSize(v) >= exact, JSON.stringify(v));
  }
});
