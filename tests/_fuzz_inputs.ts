/**
 * Inputs for tests/fuzz_test.ts: a seeded PRNG (each input gets its own
 * generator from the run's seed, the target and its index, so one input can
 * be remade alone) and mutators of bytes: bit flips, truncations, copied or
 * deleted slices, tokens from a dictionary, random Unicode, invalid UTF-8,
 * deep nesting.
 */

/** mulberry32: small, fast, good enough to pick mutations. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [0, max), most often small: for lengths and depths. */
  size(max: number): number {
    return Math.floor(Math.pow(max, this.next()));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** The generator of input `index` of `target` in the run seeded `seed`. */
export function inputRng(seed: number, target: number, index: number): Rng {
  let h = (seed ^ Math.imul(target + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) ^ index;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}

const encoder = new TextEncoder();
export const utf8 = (s: string): Uint8Array => encoder.encode(s);
/** Decodes leniently (U+FFFD for invalid bytes), for parsers that take strings. */
export const lenient = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Characters that parsers and regex engines treat specially. */
const ODD_CHARS = [
  "\u0000",
  "\u0007",
  "\t",
  "\r",
  "\u00a0",
  "\u00e9",
  "e\u0301",
  "\u200b",
  "\u200f",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\ufffd",
  "\ud800",
  "\udfff",
  "😀",
  "𝕏",
  "中",
  "ß",
  "İ",
];

/** A random string of odd and ordinary characters. */
export function randomText(r: Rng, max = 64): string {
  let s = "";
  const n = r.size(max);
  for (let i = 0; i < n; i++) {
    s += r.chance(0.5) ? r.pick(ODD_CHARS) : String.fromCodePoint(
      r.chance(0.7) ? 0x20 + r.int(0x5f) : r.int(0x10ffff - 0xe000) + 0xe000,
    );
  }
  return s;
}

/** Bytes that are not UTF-8: stray continuations, overlongs, surrogates, truncated sequences. */
const INVALID_UTF8 = [
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf0, 0x9f],
  [0xff],
  [0xfe],
];

type Mutator = (r: Rng, b: Uint8Array, dict: readonly string[]) => Uint8Array;

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const insert = (r: Rng, b: Uint8Array, what: Uint8Array) => {
  const at = r.int(b.length + 1);
  return concat(b.subarray(0, at), what, b.subarray(at));
};

const MUTATORS: Mutator[] = [
  // Flip a few bits.
  (r, b) => {
    const out = b.slice();
    for (let n = 1 + r.int(4); n > 0 && out.length; n--) {
      out[r.int(out.length)] ^= 1 << r.int(8);
    }
    return out;
  },
  // Truncate.
  (r, b) => b.slice(0, r.int(b.length + 1)),
  // Copy a slice elsewhere, sometimes many times.
  (r, b) => {
    const start = r.int(b.length + 1);
    const slice = b.subarray(start, start + r.size(b.length - start + 1));
    const times = r.chance(0.2) ? r.size(200) : 1;
    return insert(r, b, concat(...Array(times).fill(slice)));
  },
  // Delete a slice.
  (r, b) => {
    const start = r.int(b.length + 1);
    return concat(b.subarray(0, start), b.subarray(start + r.size(64)));
  },
  // Insert tokens of the format.
  (r, b, dict) => {
    let s = "";
    for (let n = 1 + r.int(3); n > 0; n--) s += r.pick(dict);
    return insert(r, b, utf8(s));
  },
  // Insert random Unicode.
  (r, b) => insert(r, b, utf8(randomText(r))),
  // Insert invalid UTF-8.
  (r, b) => insert(r, b, new Uint8Array(r.pick(INVALID_UTF8))),
  // Insert deep nesting.
  (r, b) => {
    const depth = r.size(20_000);
    const open = r.pick(["[", '{"a":', "{a: ", "- ", "? "]);
    const close = open === "[" ? "]" : open.startsWith("{") ? "}" : "";
    return insert(
      r,
      b,
      utf8(open.repeat(depth) + (r.chance(0.5) ? close.repeat(depth) : "")),
    );
  },
  // Swap the halves at a random point.
  (r, b) => {
    const at = r.int(b.length + 1);
    return concat(b.subarray(at), b.subarray(0, at));
  },
];

/** 1 to 4 mutations of `seed`, with tokens from `dict`. */
export function mutate(
  r: Rng,
  seed: Uint8Array,
  dict: readonly string[],
): Uint8Array {
  let b = seed;
  for (let n = 1 + r.int(4); n > 0; n--) b = r.pick(MUTATORS)(r, b, dict);
  return b;
}

/** Random bytes, sometimes long. */
export function randomBytes(r: Rng, max = 4096): Uint8Array {
  const out = new Uint8Array(r.size(max));
  for (let i = 0; i < out.length; i++) out[i] = r.int(256);
  return out;
}

/** YAML that trips parsers: anchors and aliases, tags, directives, flow and block indicators. */
export const YAML_TOKENS = [
  "&a ",
  "*a",
  "&b [*a, *a, *a, *a]",
  "*b",
  "[",
  "]",
  "{",
  "}",
  "- ",
  "? ",
  ": ",
  ", ",
  "!!binary ",
  "!!str ",
  "!!map ",
  "!!set ",
  "!custom ",
  "%YAML 1.1\n---\n",
  "%TAG ! tag:x,2000:\n",
  "---\n",
  "...\n",
  "<<: *a\n",
  "|\n",
  ">-\n",
  '"',
  "'",
  "# c\n",
  "\t",
  "\n",
  "  ",
  "\r\n",
  "\\",
  "0x1F",
  "1e999",
  "~",
  ".inf",
  "2024-01-01",
  "tenant: other\n",
  "queues: []\n",
  `id: ${"x".repeat(70)}\n`,
  "limits: {timeoutMs: 99999999999}\n",
  "retries: -1\n",
  "auth: public\n",
  "mainfuncname: 1x\n",
];

/** An alias bomb ("billion laughs") of `levels` levels of `width` aliases. */
export function aliasBomb(levels: number, width: number): string {
  const lines = ["a0: &a0 [lol, lol]"];
  for (let i = 1; i < levels; i++) {
    lines.push(
      `a${i}: &a${i} [${Array(width).fill(`*a${i - 1}`).join(", ")}]`,
    );
  }
  return lines.join("\n") + "\n";
}

/** JSON that trips parsers and validators. */
export const JSON_TOKENS = [
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  '"',
  "\\",
  '"\\u0000"',
  '"\\ud800"',
  '"\\udc00x"',
  "null",
  "true",
  "1e999",
  "-0",
  "0.0000000000000000000000001",
  "123456789012345678901234567890",
  '"name"',
  '"data"',
  '"__proto__"',
  '"constructor"',
  '{"name":"Ada"}',
  '{"name":""}',
  `{"name":"${"a".repeat(100)}"}`,
  " ",
  "\n",
  "\u00e9",
  "😀",
];

/** Regular-expression pieces for patterns: catastrophic, unsupported, Unicode, large. */
export const REGEX_TOKENS = [
  "a",
  "(",
  ")",
  "(a+)+",
  "(a|aa)*",
  "(.*)*",
  "+",
  "*",
  "?",
  "*?",
  "{2,5}",
  "{1000}",
  "{0,1000}",
  "[",
  "]",
  "[^]",
  "[]",
  "[a-z]",
  "\\1",
  "\\k<n>",
  "(?<n>a)",
  "(?=a)",
  "(?!a)",
  "(?<=a)",
  "(?<!a)",
  "(?:",
  "(?i:",
  "(?s:",
  "|",
  "^",
  "$",
  ".",
  "\\s",
  "\\S",
  "\\d",
  "\\w",
  "\\b",
  "\\p{L}",
  "\\p{Letter}",
  "\\p{Script=Greek}",
  "\\P{sc=Grek}",
  "\\u{1F600}",
  "\\uD83D\\uDE00",
  "\\ud800",
  "\\x41",
  "\\cJ",
  "\\0",
  "\\/",
  "\\",
  "😀",
];
