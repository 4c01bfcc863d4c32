/**
 * Text from the platform made safe to print on a terminal. What the CLI and
 * the dashboard show comes in part from tenants: a Jobicolet's result, error
 * and logs, a package's name, an error message that quotes a request. A
 * hostile module that logs `ESC ] 52 ; c ; ...` (write the clipboard), `ESC
 * [ 2 J` (clear the screen) or a bidirectional override would otherwise act
 * on the terminal of whoever watches its executions. So control characters
 * (C0 but tab and newline, DEL, C1) and the Unicode bidirectional controls
 * are shown as escapes (`\x1b`, `\u202e`) instead.
 *
 * @module
 */

/** Bidirectional controls: they reorder what follows them on screen. */
const BIDI = "\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069";
/** What `terminalText` shows as escapes (newline apart: see `keepNewlines`). */
const UNSAFE = new RegExp(`[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f${BIDI}]`, "g");
/** The same, newlines left as they are. */
const UNSAFE_BUT_NEWLINE = new RegExp(
  `[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f${BIDI}]`,
  "g",
);
/** Colour sequences the CLI's own palette writes (SGR): kept by `terminalCell`. */
const SGR = new RegExp("(\\x1b\\[[0-9;]*m)");

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * `text` with control characters shown as escapes; newlines too unless
 * `keepNewlines` (the caller lays out its lines itself). A carriage return
 * is always shown: it would let a line overwrite what came before it.
 */
export function terminalText(text: string, keepNewlines = false): string {
  return text.replace(keepNewlines ? UNSAFE_BUT_NEWLINE : UNSAFE, escape);
}

/**
 * A table cell or a line the CLI has coloured: the palette's colour
 * sequences are kept, everything else is as `terminalText` shows it.
 */
export function terminalCell(text: string): string {
  if (!text.includes("\x1b")) return terminalText(text);
  return text.split(SGR).map((part, i) => i % 2 ? part : terminalText(part))
    .join("");
}
