import assert from "node:assert/strict";
import { sampleExecution } from "./_capture_io.ts";
import {
  formatAge,
  formatDuration,
  formatExecutionLine,
  formatFields,
  formatLogLine,
  formatOutcome,
  formatStatus,
  formatTable,
  Output,
  palette,
  shouldColor,
  stripAnsi,
  truncate,
  visibleWidth,
} from "./output.ts";

const tty = { write() {}, isTerminal: () => true };
const pipe = { write() {}, isTerminal: () => false };

Deno.test("shouldColor needs a terminal and no NO_COLOR", () => {
  assert.equal(shouldColor(tty, {}), true);
  assert.equal(shouldColor(tty, { NO_COLOR: "1" }), false);
  assert.equal(shouldColor(tty, { NO_COLOR: "" }), true);
  assert.equal(shouldColor(pipe, {}), false);
  assert.equal(shouldColor({ write() {} }, {}), false);
});

Deno.test("palette without colour returns text unchanged", () => {
  const plain = palette(false);
  assert.equal(plain.red("x"), "x");
  assert.equal(plain.bold("x"), "x");
  const colored = palette(true);
  assert.equal(colored.green("ok"), "\x1b[32mok\x1b[39m");
  assert.equal(stripAnsi(colored.red("failed")), "failed");
  assert.equal(visibleWidth(colored.yellow("error")), 5);
});

Deno.test("formatTable aligns columns and leaves the last unpadded", () => {
  const text = formatTable(["ID", "VERSION", "NAME"], [
    ["greet", "3", "Greeter"],
    ["a-long-id", "12", ""],
  ]);
  assert.equal(
    text,
    "ID         VERSION  NAME\n" +
      "greet      3        Greeter\n" +
      "a-long-id  12\n",
  );
});

Deno.test("formatTable ignores colour codes when measuring", () => {
  const c = palette(true);
  const text = formatTable(["STATUS", "X"], [[c.green("ok"), "1"], [
    c.red("failed"),
    "2",
  ]], c);
  const lines = stripAnsi(text).split("\n");
  assert.deepEqual(lines, ["STATUS  X", "ok      1", "failed  2", ""]);
  assert.ok(text.startsWith("\x1b[1m"), "header is bold");
});

Deno.test("formatFields aligns values", () => {
  assert.equal(
    formatFields([["name", "greet.wasm"], ["sha256", "abc"], ["size", ""]]),
    "name    greet.wasm\nsha256  abc\nsize\n",
  );
});

Deno.test("truncate cuts with an ellipsis", () => {
  assert.equal(truncate("hello", 10), "hello");
  assert.equal(truncate("hello world", 6), "hello…");
  assert.equal(truncate("héllo wörld", 5), "héll…");
});

Deno.test("formatDuration picks a unit", () => {
  assert.equal(formatDuration(0), "0ms");
  assert.equal(formatDuration(12.4), "12ms");
  assert.equal(formatDuration(1500), "1.50s");
  assert.equal(formatDuration(12_345), "12.3s");
  assert.equal(formatDuration(125_000), "2m05s");
  assert.equal(formatDuration(NaN), "-");
});

Deno.test("formatStatus colours ok green, error yellow, failed red", () => {
  const c = palette(true);
  assert.equal(formatStatus("ok", c), "\x1b[32mok\x1b[39m");
  assert.equal(formatStatus("error", c), "\x1b[33merror\x1b[39m");
  assert.equal(formatStatus("failed", c), "\x1b[31mfailed\x1b[39m");
  assert.equal(formatStatus("ok", palette(false), 6), "ok    ");
});

Deno.test("formatOutcome shows the error, else the result, on one line", () => {
  assert.equal(
    formatOutcome(sampleExecution()),
    '{"message":"Hello Ada"}',
  );
  assert.equal(
    formatOutcome(sampleExecution({
      status: "failed",
      code: null,
      result: null,
      error: "trap: unreachable\n  at greet",
    })),
    "trap: unreachable at greet",
  );
  assert.equal(formatOutcome(sampleExecution({ result: null })), "");
  assert.equal(
    formatOutcome(sampleExecution({ result: "x".repeat(100) }), 10),
    "x".repeat(9) + "…",
  );
});

Deno.test("formatExecutionLine prints one line, then logs with --logs", () => {
  const execution = sampleExecution({
    logs: [
      { level: "info", message: "greeting Ada", source: "module" },
      { level: "warn", message: "two\nlines", source: "stderr" },
    ],
  });
  const line = formatExecutionLine(execution);
  assert.match(line, /^\d\d:\d\d:\d\d\.006 /);
  assert.equal(
    line.slice(12),
    '  ok      greet/greet  code=0  12ms  {"message":"Hello Ada"}\n',
  );
  const withLogs = formatExecutionLine(execution, { logs: true });
  assert.equal(
    withLogs.slice(line.length),
    "  [info] greeting Ada\n  [warn] two\n         lines\n",
  );
});

Deno.test("formatExecutionLine colours the status and the error", () => {
  const c = palette(true);
  const line = formatExecutionLine(
    sampleExecution({
      status: "failed",
      code: null,
      result: null,
      error: "timeout",
    }),
    { colors: c },
  );
  assert.ok(line.includes("\x1b[31mfailed\x1b[39m"));
  assert.ok(line.includes("code=-"));
  assert.ok(line.includes("\x1b[31mtimeout\x1b[39m"));
  assert.equal(line.split("\n").length, 2);
});

Deno.test("formatLogLine marks levels", () => {
  assert.equal(formatLogLine("error", "boom"), "  [error] boom\n");
  assert.equal(
    formatLogLine("error", "boom", palette(true)),
    "  \x1b[31m[error]\x1b[39m boom\n",
  );
});

Deno.test("Output writes lines, tables and JSON", () => {
  let text = "";
  const out = new Output({ write: (t) => void (text += t) });
  out.line("hi");
  out.table(["A", "B"], [["1", "2"]]);
  out.json({ a: 1 });
  out.jsonLine({ b: [1] });
  assert.equal(text, 'hi\nA  B\n1  2\n{\n  "a": 1\n}\n{"b":[1]}\n');
  assert.equal(out.colors.enabled, false);
});

Deno.test("formatAge gets coarser as the age grows", () => {
  assert.equal(formatAge(0), "-");
  assert.equal(formatAge(Number.NaN), "-");
  assert.equal(formatAge(850.4), "850ms");
  assert.equal(formatAge(42_900), "42s");
  assert.equal(formatAge(185_000), "3m05s");
  assert.equal(formatAge((2 * 60 + 7) * 60_000 + 5_000), "2h07m");
  assert.equal(formatAge((4 * 24 + 3) * 3_600_000 + 60_000), "4d03h");
});
