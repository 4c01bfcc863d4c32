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
/** Control characters but tab and newline (and the newline, when `newline`). */
const unsafe = (newline: boolean) =>
  `[\\x00-\\x08${newline ? "\\x0a" : ""}\\x0b-\\x1f\\x7f-\\x9f${BIDI}]`;

/** Colour sequences (SGR), as the CLI's palette writes them. */
// deno-lint-ignore no-control-regex
export const SGR = /\x1b\[[0-9;]*m/g;

/** What `terminalText` shows as escapes, without and with newlines. */
const TEXT = [new RegExp(unsafe(true), "g"), new RegExp(unsafe(false), "g")];
/** The same, colour sequences apart (matched first, and kept). */
const CELL = [true, false].map((newline) =>
  new RegExp(`(${SGR.source})|${unsafe(newline)}`, "g")
);

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
  return text.replace(TEXT[keepNewlines ? 1 : 0], escape);
}

/**
 * Text the CLI may have coloured (a table cell, a line): the palette's
 * colour sequences are kept, everything else is as `terminalText` shows it.
 */
export function terminalCell(text: string, keepNewlines = false): string {
  return text.replace(
    CELL[keepNewlines ? 1 : 0],
    (c, sgr: string | undefined) => sgr ?? escape(c),
  );
}
