/**
 * Text the dashboard draws: lines of coloured segments, built by pure
 * functions (testable without a terminal) and drawn by `StyledLines`.
 */

/** A colour name ink understands (chalk's names). */
export type Color =
  | "green"
  | "yellow"
  | "red"
  | "cyan"
  | "blue"
  | "magenta"
  | "gray"
  | "white";

/** A run of text in one style. */
export interface Segment {
  text: string;
  color?: Color;
  bold?: boolean;
  dim?: boolean;
  /** Wrapped lines continue under the end of this segment (a field's key). */
  hang?: boolean;
}

/** One line on the screen. */
export type Line = Segment[];

/** A segment; a shorthand for building lines. */
export function seg(
  text: string,
  color?: Color,
  style: { bold?: boolean; dim?: boolean } = {},
): Segment {
  return { text, color, ...style };
}

/** A line of plain text. */
export function plain(text: string): Line {
  return [{ text }];
}

/** The characters of a line, without styles. */
export function lineText(line: Line): string {
  return line.map((s) => s.text).join("");
}

/** The colour of an execution status: ok green, error yellow, failed red. */
export function statusColor(status: string): Color | undefined {
  if (status === "ok") return "green";
  if (status === "error") return "yellow";
  if (status === "failed") return "red";
  return undefined;
}

/** `1.0 KiB`, `29.5 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "-";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Pads or cuts text to exactly `width` characters (cut ends with `…`). */
export function fit(text: string, width: number): string {
  const chars = [...text];
  if (width <= 0) return "";
  if (chars.length <= width) return text + " ".repeat(width - chars.length);
  return chars.slice(0, Math.max(0, width - 1)).join("") + "…";
}

/**
 * Soft-wraps lines to `width` characters, keeping styles: at the last space
 * that fits when there is one, and continued under the line's indentation.
 */
export function wrapLines(lines: Line[], width: number): Line[] {
  if (width <= 0) return lines;
  const out: Line[] = [];
  for (const line of lines) {
    // One entry per character, with the index of its segment.
    const chars: [string, number][] = [];
    line.forEach((s, i) => {
      for (const c of s.text) chars.push([c, i]);
    });
    if (chars.length <= width) {
      out.push(line);
      continue;
    }
    let indent = 0;
    if (line[0]?.hang) indent = [...line[0].text].length;
    else while (indent < chars.length && chars[indent][0] === " ") indent++;
    indent = Math.min(indent, Math.floor(width / 2));
    let rest = chars;
    let first = true;
    while (rest.length > 0) {
      const room = first ? width : width - indent;
      let take = Math.min(rest.length, room);
      let skip = 0;
      if (rest.length > room) {
        let space = room;
        while (space > 0 && rest[space][0] !== " ") space--;
        // Break at the space, which goes away, unless the word is too long.
        if (space > room / 3) [take, skip] = [space, 1];
      }
      const piece = rest.slice(0, take);
      rest = rest.slice(take + skip);
      const pad: [string, number][] = first || indent === 0
        ? []
        : [...Array(indent)].map((): [string, number] => [" ", -1]);
      out.push(toLine([...pad, ...piece], line));
      first = false;
    }
  }
  return out;
}

function toLine(chars: [string, number][], source: Line): Line {
  const out: Segment[] = [];
  for (const [c, i] of chars) {
    const last = out[out.length - 1] as Segment & { from?: number };
    if (last && last.from === i) last.text += c;
    else {out.push(
        { ...(i >= 0 ? source[i] : {}), text: c, from: i } as Segment,
      );}
  }
  return out.map(({ from: _from, ...s }: Segment & { from?: number }) => s);
}
