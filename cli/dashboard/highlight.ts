/**
 * Syntax highlighting of the two kinds of text the dashboard shows: job
 * packages (YAML) and JSON Schemas. Line based and forgiving: anything it
 * does not recognise stays plain, and every input character is kept.
 */
import { type Color, type Line, seg, type Segment } from "./styled_text.ts";

const KEY_COLOR: Color = "cyan";
const STRING_COLOR: Color = "green";
const NUMBER_COLOR: Color = "magenta";
const KEYWORD_COLOR: Color = "yellow";
const COMMENT_COLOR: Color = "gray";
const MARK_COLOR: Color = "blue";

/** YAML: keys, scalars by type, list marks, comments, document marks. */
export function highlightYaml(text: string): Line[] {
  return splitLines(text).map(yamlLine);
}

/** JSON: keys, strings, numbers, `true`/`false`/`null`; punctuation plain. */
export function highlightJson(text: string): Line[] {
  return splitLines(text).map(jsonLine);
}

function splitLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, "\n").replace(/\n$/, "").split("\n");
  return lines.map((l) => l.replace(/\t/g, "  "));
}

function yamlLine(line: string): Line {
  const out: Segment[] = [];
  if (/^(---|\.\.\.)\s*$/.test(line)) return [seg(line, MARK_COLOR)];
  let rest = line;
  const indent = /^\s*/.exec(rest)![0];
  if (indent) out.push(seg(indent));
  rest = rest.slice(indent.length);
  if (rest.startsWith("#")) return [...out, seg(rest, COMMENT_COLOR)];
  // List marks, possibly several ("- - a").
  for (let m = /^-(\s+|$)/.exec(rest); m; m = /^-(\s+|$)/.exec(rest)) {
    out.push(seg("-", MARK_COLOR), seg(m[1]));
    rest = rest.slice(m[0].length);
  }
  const key =
    /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{[][^:#]*?)(\s*):(\s+|$)/
      .exec(rest);
  if (key) {
    out.push(seg(key[1], KEY_COLOR), seg(key[2] + ":" + key[3]));
    rest = rest.slice(key[0].length);
  }
  out.push(...yamlValue(rest));
  return out;
}

/** A scalar (and a trailing comment) after `key:` or `-`. */
function yamlValue(text: string): Segment[] {
  if (!text) return [];
  if (text.startsWith("#")) return [seg(text, COMMENT_COLOR)];
  let value = text;
  let comment = "";
  const quoted = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')/.exec(text);
  const end = quoted ? quoted[0].length : 0;
  const hash = text.slice(end).search(/\s#/);
  if (hash !== -1) {
    value = text.slice(0, end + hash);
    comment = text.slice(end + hash);
  }
  const trimmed = value.trimEnd();
  const trailing = value.slice(trimmed.length);
  const out: Segment[] = [seg(trimmed, scalarColor(trimmed))];
  if (trailing) out.push(seg(trailing));
  if (comment) out.push(seg(comment, COMMENT_COLOR));
  return out.filter((s) => s.text !== "");
}

function scalarColor(value: string): Color | undefined {
  if (value === "") return undefined;
  if (/^(true|false|yes|no|on|off|null|~)$/i.test(value)) return KEYWORD_COLOR;
  if (
    /^[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|0x[0-9a-fA-F]+|\.inf|\.nan)$/.test(
      value,
    )
  ) {
    return NUMBER_COLOR;
  }
  if (/^[|>][-+]?\d*$/.test(value) || /^[&*!]/.test(value)) return MARK_COLOR;
  if (/^[[{]/.test(value)) return undefined;
  return STRING_COLOR;
}

const JSON_TOKEN =
  /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|\b(true|false|null)\b/g;

function jsonLine(line: string): Line {
  const out: Segment[] = [];
  let at = 0;
  for (const m of line.matchAll(JSON_TOKEN)) {
    if (m.index > at) out.push(seg(line.slice(at, m.index)));
    if (m[1] !== undefined) {
      if (m[2] !== undefined) {
        out.push(seg(m[1], KEY_COLOR), seg(m[2]));
      } else {
        out.push(seg(m[1], STRING_COLOR));
      }
    } else if (m[3] !== undefined) {
      out.push(seg(m[3], NUMBER_COLOR));
    } else {
      out.push(seg(m[4], KEYWORD_COLOR));
    }
    at = m.index + m[0].length;
  }
  if (at < line.length) out.push(seg(line.slice(at)));
  return out;
}
