import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { terminalControls } from "../_capture_io.ts";
import { stripAnsi } from "../output.ts";
import { StyledLines } from "./styled_lines.tsx";

Deno.test("StyledLines: attack: a result or log line cannot drive the terminal", () => {
  const hostile = "Ada\x1b]0;pwned\x07\x1b[2J\rFAKE\u202e";
  const { lastFrame, unmount } = render(
    <StyledLines
      width={80}
      lines={[[{ text: "result " }, { text: hostile, color: "red" }]]}
    />,
  );
  try {
    const frame = stripAnsi(lastFrame() ?? "");
    assert.deepEqual(terminalControls(frame), [], frame);
    assert.match(frame, /Ada\\x1b\]0;pwned\\x07\\x1b\[2J\\x0dFAKE\\u202e/);
  } finally {
    unmount();
  }
});
