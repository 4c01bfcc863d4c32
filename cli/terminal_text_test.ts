import assert from "node:assert/strict";
import { terminalCell, terminalText } from "./terminal_text.ts";

Deno.test("terminalText shows control characters and bidi overrides as escapes", () => {
  const attacks: [string, string][] = [
    ["\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"], // write the clipboard
    ["\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"], // clear the screen
    ["ok\rFAKE", "ok\\x0dFAKE"], // overwrite the line
    ["\x9b31m", "\\x9b31m"], // C1 CSI
    ["a\x00b\x7fc\x08", "a\\x00b\\x7fc\\x08"],
    ["user\u202Egnp.exe", "user\\u202egnp.exe"], // right-to-left override
    ["\u2066x\u2069", "\\u2066x\\u2069"],
  ];
  for (const [text, shown] of attacks) assert.equal(terminalText(text), shown);
  // Ordinary text, tabs and any script are left as they are.
  const fine = "Hello, Ada!\tcode=0 中文 € 🎉 שלום";
  assert.equal(terminalText(fine), fine);
  // Newlines: shown unless kept.
  assert.equal(terminalText("a\nb"), "a\\x0ab");
  assert.equal(terminalText("a\nb\r\n", true), "a\nb\\x0d\n");
});

Deno.test("terminalCell keeps the CLI's colours and escapes what else comes with them", () => {
  const red = (s: string) => `\x1b[31m${s}\x1b[39m`;
  assert.equal(terminalCell(red("failed")), red("failed"));
  assert.equal(
    terminalCell(red("x\x1b]0;title\x07")),
    red("x\\x1b]0;title\\x07"),
  );
  assert.equal(terminalCell("plain\x1b[2J"), "plain\\x1b[2J");
});
