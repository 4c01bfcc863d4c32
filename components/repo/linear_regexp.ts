/**
 * Tenant-written regular expressions (JSON Schema `pattern` and
 * `patternProperties`) run on RE2JS, a pure-JavaScript port of RE2: matching
 * takes time linear in the input, so `^(a+)+$` cannot backtrack
 * catastrophically. A pattern is first checked as an ECMAScript regular
 * expression (what JSON Schema specifies, with the `u` flag), then translated
 * to RE2 syntax keeping ECMAScript's meaning:
 *
 * - `.` excludes `\n`, `\r`, U+2028 and U+2029, and `\s` (outside a
 *   character class, and positive inside one) is ECMAScript's Unicode white
 *   space. One difference remains: `\S` inside a class (`[x\S]`) also
 *   matches non-ASCII white space.
 * - `\uXXXX` (surrogate pairs joined), `\u{...}`, `\xHH`, `\cX`, `\0`, `[\b]`,
 *   `[]`, `[^]` and long Unicode property names (`\p{Letter}`) are rewritten.
 * - What RE2 cannot run is refused with `UnsupportedPatternError`:
 *   backreferences, lookahead and lookbehind, the `s` modifier, repeat counts
 *   above 1000, Unicode properties RE2 does not know.
 *
 * Linear is not free: matching costs about the input length times the
 * pattern's active states, so patterns are also bounded in length and in
 * compiled size (`PatternLimits`), one match in input length times compiled
 * size (`MAX_MATCH_WORK`), and the matches of one validation in time
 * (`withPatternDeadline`). Past a bound, matching throws
 * `PatternWorkError`, which the caller turns into a refusal.
 */
import { RE2JS } from "re2js";

/** A pattern this engine refuses, with why. */
export class UnsupportedPatternError extends Error {
  constructor(readonly pattern: string, readonly reason: string) {
    super(`Pattern ${quotePattern(pattern)} cannot be used: ${reason}`);
    this.name = "UnsupportedPatternError";
  }
}

export interface PatternLimits {
  /** Longest pattern source, in UTF-16 units. Default 4096. */
  maxLength: number;
  /** Largest compiled pattern (RE2 instructions; `a{1000}` is about 1000). Default 5000. */
  maxProgramSize: number;
}

export const DEFAULT_PATTERN_LIMITS: Readonly<PatternLimits> = {
  maxLength: 4096,
  maxProgramSize: 5000,
};

/**
 * Input length times compiled size allowed in one match: measured at 0.04 to
 * 0.13 µs per unit on the worst patterns (2 cores, Deno 2.9), so one match
 * stays under about 250 ms.
 */
export const MAX_MATCH_WORK = 2_000_000;

/** Matching was stopped: the input is too long for the pattern, or the validation ran out of time. */
export class PatternWorkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PatternWorkError";
  }
}

let deadline = Infinity;

/** What a refusal says of a schema that refers back to itself without end. */
export const ENDLESS_SCHEMA = "the schema refers back to itself without end";

/**
 * Whether validating threw because the schema refers back to itself
 * without end for this value (the stack ran out).
 */
export function isEndlessSchema(err: unknown): boolean {
  return err instanceof RangeError &&
    /Maximum call stack size exceeded/.test(err.message);
}

/**
 * Runs `fn` (one or more validations) with a time budget for pattern
 * matching: a match started after `ms` have passed throws
 * `PatternWorkError`. Synchronous, so no other validation interleaves. A
 * validation that recurses without end (a `$dynamicRef` loop some data
 * reaches) throws `PatternWorkError` too, saying so: every caller that
 * bounds a validation handles both the same way.
 */
export function withPatternDeadline<T>(ms: number, fn: () => T): T {
  const outer = deadline;
  deadline = Math.min(outer, performance.now() + ms);
  try {
    return fn();
  } catch (err) {
    if (isEndlessSchema(err)) {
      throw new PatternWorkError(ENDLESS_SCHEMA, { cause: err });
    }
    throw err;
  } finally {
    deadline = outer;
  }
}

/**
 * Throws `PatternWorkError` when the deadline of `withPatternDeadline` has
 * passed: for the other checks a schema makes on tenant data (formats,
 * `uniqueItems`) between one value and the next.
 */
export function checkPatternDeadline(): void {
  if (deadline !== Infinity && performance.now() > deadline) {
    throw new PatternWorkError(
      "checking it took longer than the validation's time budget",
    );
  }
}

/** What `compileLinearRegExp` returns: Ajv's `RegExpLike`, and its size. */
export interface LinearRegExp {
  test(input: string): boolean;
  programSize(): number;
  toString(): string;
}

/**
 * Checks, translates and compiles an ECMAScript pattern (`u` flag) for
 * RE2JS; `UnsupportedPatternError` when it cannot be run in linear time or
 * exceeds the limits.
 */
export function compileLinearRegExp(
  pattern: string,
  limits: PatternLimits = DEFAULT_PATTERN_LIMITS,
): LinearRegExp {
  if (pattern.length > limits.maxLength) {
    throw new UnsupportedPatternError(
      pattern,
      `it is ${pattern.length} characters long; the limit is ${limits.maxLength}`,
    );
  }
  try {
    new RegExp(pattern, "u"); // syntax only: nothing is matched with it
  } catch (err) {
    throw new UnsupportedPatternError(
      pattern,
      `it is not a valid regular expression (${(err as Error).message})`,
    );
  }
  const source = toRe2Syntax(pattern);
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    const message = (err as Error).message.replace(
      /^error parsing regexp: /,
      "",
    );
    throw new UnsupportedPatternError(
      pattern,
      `the linear-time engine (RE2) does not support it: ${message}`,
    );
  }
  const size = re.programSize();
  if (size > limits.maxProgramSize) {
    throw new UnsupportedPatternError(
      pattern,
      `it compiles to ${size} instructions; the limit is ${limits.maxProgramSize}`,
    );
  }
  const longest = Math.floor(MAX_MATCH_WORK / Math.max(1, size));
  return {
    test(input: string): boolean {
      if (input.length > longest) {
        throw new PatternWorkError(
          `a string of ${input.length} characters is too long to match against pattern ${
            quotePattern(pattern)
          } (at most ${longest})`,
        );
      }
      if (performance.now() > deadline) {
        throw new PatternWorkError(
          `matching its patterns took too long (pattern ${
            quotePattern(pattern)
          } was not tried)`,
        );
      }
      return re.test(input);
    },
    programSize: () => size,
    toString: () => re.toString(),
  };
}

/** ECMAScript white space and line terminators (`\s`), as RE2 class items. */
const WHITE_SPACE =
  "\\t\\n\\x{B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";
const DOT = "[^\\n\\r\\x{2028}\\x{2029}]";
const ANY = "\\x{0}-\\x{10FFFF}";

/** Long General_Category names that RE2 knows by their short name. */
const CATEGORY: Record<string, string> = {
  Letter: "L",
  Uppercase_Letter: "Lu",
  Lowercase_Letter: "Ll",
  Titlecase_Letter: "Lt",
  Modifier_Letter: "Lm",
  Other_Letter: "Lo",
  Mark: "M",
  Combining_Mark: "M",
  Nonspacing_Mark: "Mn",
  Spacing_Mark: "Mc",
  Enclosing_Mark: "Me",
  Number: "N",
  Decimal_Number: "Nd",
  digit: "Nd",
  Letter_Number: "Nl",
  Other_Number: "No",
  Punctuation: "P",
  punct: "P",
  Connector_Punctuation: "Pc",
  Dash_Punctuation: "Pd",
  Open_Punctuation: "Ps",
  Close_Punctuation: "Pe",
  Initial_Punctuation: "Pi",
  Final_Punctuation: "Pf",
  Other_Punctuation: "Po",
  Symbol: "S",
  Math_Symbol: "Sm",
  Currency_Symbol: "Sc",
  Modifier_Symbol: "Sk",
  Other_Symbol: "So",
  Separator: "Z",
  Space_Separator: "Zs",
  Line_Separator: "Zl",
  Paragraph_Separator: "Zp",
  Other: "C",
  Control: "Cc",
  cntrl: "Cc",
  Format: "Cf",
  Surrogate: "Cs",
  Private_Use: "Co",
  Unassigned: "Cn",
};

/** The flags of a modifier group after "(?", e.g. "i" in "(?i-m:". */
const MODIFIERS = /([a-z]*)(?:-[a-z]*)?:/y;
const hex = (cp: number) => `\\x{${cp.toString(16).toUpperCase()}}`;
const isHex = (s: string) => /^[0-9A-Fa-f]+$/.test(s);

/**
 * Rewrites a valid ECMAScript pattern (`u` flag) in RE2 syntax with the same
 * meaning; `UnsupportedPatternError` for what RE2 cannot express.
 */
export function toRe2Syntax(pattern: string): string {
  const refuse = (reason: string): never => {
    throw new UnsupportedPatternError(pattern, reason);
  };
  let out = "";
  let inClass = false;
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === "\\") {
      const [text, next] = escape(pattern, i, inClass, refuse);
      out += text;
      i = next;
    } else if (inClass) {
      if (ch === "]") inClass = false;
      // "[" is literal in an ECMAScript class; RE2 would read "[:alpha:]".
      out += ch === "[" ? "\\[" : ch;
      i++;
    } else if (ch === "[") {
      const negated = pattern[i + 1] === "^";
      const first = i + (negated ? 2 : 1);
      if (pattern[first] === "]") {
        // "[]" matches nothing and "[^]" any character; RE2 reads "]" there as a literal.
        out += negated ? `[${ANY}]` : `[^${ANY}]`;
        i = first + 1;
      } else {
        out += negated ? "[^" : "[";
        inClass = true;
        i = first;
      }
    } else if (ch === ".") {
      out += DOT;
      i++;
    } else if (ch === "(" && pattern[i + 1] === "?") {
      const rest = pattern.slice(i + 2, i + 4);
      if (rest[0] === "=" || rest[0] === "!") {
        refuse("lookahead ((?= and (?!) is not supported");
      }
      if (rest === "<=" || rest === "<!") {
        refuse("lookbehind ((?<= and (?<!) is not supported");
      }
      // Modifiers: "(?i:", "(?-i:", "(?m-s:"; only turning s on changes ".".
      MODIFIERS.lastIndex = i + 2;
      const modifiers = MODIFIERS.exec(pattern);
      if (modifiers?.[1].includes("s")) {
        refuse("the s modifier ((?s:...)) is not supported");
      }
      out += "(?";
      i += 2;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** One escape at `i` (a backslash): its RE2 text and the index after it. */
function escape(
  p: string,
  i: number,
  inClass: boolean,
  refuse: (reason: string) => never,
): [string, number] {
  const c = p[i + 1];
  switch (c) {
    case "s":
      return [inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`, i + 2];
    case "S":
      return [inClass ? "\\S" : `[^${WHITE_SPACE}]`, i + 2];
    case "b":
      return [inClass ? hex(8) : "\\b", i + 2];
    case "0":
      return [hex(0), i + 2];
    case "c":
      return [hex(p.charCodeAt(i + 2) % 32), i + 3];
    case "x":
      return [`\\x{${p.slice(i + 2, i + 4)}}`, i + 4];
    case "u": {
      if (p[i + 2] === "{") {
        const end = p.indexOf("}", i + 3);
        return [`\\x{${p.slice(i + 3, end)}}`, end + 1];
      }
      const unit = parseInt(p.slice(i + 2, i + 6), 16);
      const low = p.slice(i + 8, i + 12);
      if (
        unit >= 0xd800 && unit <= 0xdbff && p.slice(i + 6, i + 8) === "\\u" &&
        low.length === 4 && isHex(low)
      ) {
        const lo = parseInt(low, 16);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          return [
            hex(0x10000 + ((unit - 0xd800) << 10) + (lo - 0xdc00)),
            i + 12,
          ];
        }
      }
      return [hex(unit), i + 6];
    }
    case "p":
    case "P": {
      const end = p.indexOf("}", i + 3);
      let name = p.slice(i + 3, end);
      const eq = name.indexOf("=");
      if (eq >= 0) {
        const key = name.slice(0, eq);
        if (key === "gc" || key === "General_Category") {
          name = name.slice(eq + 1);
        } else if (key === "sc" || key === "Script") {
          name = name.slice(eq + 1);
        } else {
          refuse(`the Unicode property "${key}" is not supported`);
        }
      }
      return [`\\${c}{${CATEGORY[name] ?? name}}`, end + 1];
    }
    case "k":
      return refuse("backreferences (\\k<name>) are not supported");
    case "d":
    case "D":
    case "w":
    case "W":
    case "B":
    case "f":
    case "n":
    case "r":
    case "t":
    case "v":
      return ["\\" + c, i + 2];
    default:
      if (c >= "1" && c <= "9") {
        return refuse(`backreferences (\\${c}) are not supported`);
      }
      // Escaped syntax characters ("\\.", "\\/", "\\-" in a class): literal in both.
      if (c !== undefined && /[\^$\\.*+?()[\]{}|/-]/.test(c)) {
        return ["\\" + c, i + 2];
      }
      return refuse(`the escape "\\${c ?? ""}" is not supported`);
  }
}

/** A pattern quoted for a message, shortened when long. */
export function quotePattern(pattern: string): string {
  return JSON.stringify(
    pattern.length > 80 ? `${pattern.slice(0, 77)}...` : pattern,
  );
}
