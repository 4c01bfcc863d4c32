import assert from "node:assert/strict";
import {
  fit,
  formatBytes,
  type Line,
  lineText,
  seg,
  statusColor,
  wrapLines,
} from "./styled_text.ts";

Deno.test("statusColor: ok green, error yellow, failed red", () => {
  assert.equal(statusColor("ok"), "green");
  assert.equal(statusColor("error"), "yellow");
  assert.equal(statusColor("failed"), "red");
  assert.equal(statusColor("other"), undefined);
});

Deno.test("fit pads or cuts to the width; formatBytes", () => {
  assert.equal(fit("abc", 5), "abc  ");
  assert.equal(fit("abcdef", 4), "abc…");
  assert.equal(formatBytes(390), "390 B");
  assert.equal(formatBytes(30183), "29.5 KiB");
  assert.equal(formatBytes(3 * 1024 * 1024), "3.0 MiB");
});

Deno.test("wrapLines breaks at spaces, keeps styles, and hangs under a field's key", () => {
  const text = (lines: Line[]) => lines.map(lineText);
  assert.deepEqual(
    text(wrapLines([[seg("one two three four", "green")]], 9)),
    ["one two", "three", "four"],
  );
  const wrapped = wrapLines([[seg("aaa ", "red"), seg("bbbbbb", "blue")]], 6);
  assert.deepEqual(text(wrapped), ["aaa", "bbbbbb"]);
  assert.equal(wrapped[1][0].color, "blue");
  // A word longer than the width is cut.
  assert.deepEqual(text(wrapLines([[seg("abcdefgh")]], 3)), [
    "abc",
    "def",
    "gh",
  ]);
  // Indented lines continue under their indentation, fields under the value.
  assert.deepEqual(text(wrapLines([[seg("  - a b c d")]], 7)), [
    "  - a b",
    "  c d",
  ]);
  const field: Line = [{ text: "key  ", hang: true }, seg("v1 v2 v3")];
  assert.deepEqual(text(wrapLines([field], 10)), ["key  v1 v2", "     v3"]);
  // Short lines are left as they are.
  const short: Line = [seg("ok", "green")];
  assert.equal(wrapLines([short], 10)[0], short);
});
