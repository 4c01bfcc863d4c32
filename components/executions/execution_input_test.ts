import assert from "node:assert/strict";
import { kvValueSize, WriteBatch } from "@jobico/goico";
import type { Execution } from "./execution.ts";
import { ExecutionStore } from "./execution_store.ts";

function exec(input: unknown, logLines = 0, lineChars = 100): Execution {
  return {
    id: "0000000000000000001",
    eventId: "0000000000000000002",
    tenant: "acme",
    package: "p",
    version: 1,
    event: "e",
    queue: "q",
    status: "ok",
    code: 0,
    result: "{}",
    error: null,
    logs: Array.from({ length: logLines }, (_, i) => ({
      level: "info" as const,
      source: "module" as const,
      message: `${i} ${"x".repeat(lineChars)}`,
    })),
    attempt: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    durationMs: 1,
    input,
  };
}

Deno.test("a record keeps its input, and stores it", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const s = new ExecutionStore(kv);
    const fitted = s.fit(exec({ name: "Ada", n: [1, 2] }, 3));
    assert.deepEqual(fitted.record.input, { name: "Ada", n: [1, 2] });
    assert.ok((await s.record(new WriteBatch(kv), fitted).commit()).ok);
    assert.deepEqual(
      (await s.get("acme", "0000000000000000001"))?.input,
      { name: "Ada", n: [1, 2] },
    );
  } finally {
    kv.close();
  }
});

Deno.test("attack: a record too large loses a large input first, a small one only after its log lines", async () => {
  const kv = await Deno.openKv(":memory:");
  const s = new ExecutionStore(kv);
  // 40 KB of input and 40 KB of logs: the input goes, the logs stay.
  const big = s.fit(exec("i".repeat(40_000), 400, 100));
  assert.equal("input" in big.record, false);
  assert.ok(big.bytes <= 60 * 1024, `${big.bytes}`);
  assert.equal(big.record.logs.length, 401);
  assert.match(
    big.record.logs.at(-1)!.message,
    /^The input was not kept \(\d+ bytes\): the record exceeded 61440 bytes; it cannot be re-run$/,
  );
  // A small input and 100 KB of logs: log lines go, the input stays.
  const small = s.fit(exec({ name: "Ada" }, 1000, 100));
  assert.deepEqual(small.record.input, { name: "Ada" });
  assert.ok(small.bytes <= 60 * 1024);
  assert.ok(small.record.logs.length < 1000);
  // An input of 25 KB and 50 KB of logs: log lines go, the input stays,
  // and the record fits one KV value.
  const mid = s.fit(exec("m".repeat(25_000), 500, 100));
  assert.equal(mid.record.input, "m".repeat(25_000));
  assert.ok(mid.record.logs.length < 500);
  assert.ok(kvValueSize(mid.record) <= 60 * 1024);
  assert.ok((await s.record(new WriteBatch(kv), mid).commit()).ok);
  kv.close();
});
