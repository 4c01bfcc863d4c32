import assert from "node:assert/strict";
import {
  compileLinearRegExp,
  toRe2Syntax,
  UnsupportedPatternError,
} from "./linear_regexp.ts";

/** Patterns of the kinds schemas use, and the translations' corner cases. */
const PATTERNS = [
  "^[a-z]+$",
  "^\\d{3}-\\d{4}$",
  "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
  "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
  "^\\+?[1-9]\\d{1,14}$",
  "^.{1,5}$",
  "^.$",
  "a.c",
  "^\\s*$",
  "^\\S+$",
  "[\\s]",
  "[^\\s]",
  "\\w+\\b",
  "\\bfoo\\B",
  "[\\b]",
  "^[]",
  "^[^]$",
  "\\u00e9",
  "\\u{1F600}",
  "\\uD83D\\uDE00",
  "^\\x41",
  "\\cJ",
  "\\0",
  "[\\[\\]]",
  "[[:a]",
  "\\/",
  "[a\\-z]",
  "^\\p{Lu}\\p{Ll}*$",
  "^\\p{Letter}+$",
  "^\\p{gc=Nd}+$",
  "^\\p{Script=Greek}+$",
  "\\P{L}",
  "(?<year>\\d{4})-(?<month>\\d{2})",
  "(?:ab|cd)*?e",
  "^(a+)+$",
  "(?i:abc)",
  "x*",
  "",
  "$",
  "^$",
];

const INPUTS = [
  "",
  "abc",
  "ABC",
  "a\nc",
  "a\rc",
  "a\u2028c",
  "a\u00a0c",
  " \t\n",
  "\u00a0",
  "\ufeff",
  "x",
  "é",
  "😀",
  "\ud83d",
  "A😀",
  "555-1234",
  "+14155550123",
  "ada@example.com",
  "123e4567-e89b-12d3-a456-426614174000",
  "foo bar",
  "foobar",
  "\b",
  "\n",
  "\0",
  "[",
  "]",
  ":",
  "-",
  "/",
  "Ada",
  "ΑΒΓ",
  "αβγ",
  "١٢٣",
  "2024-01",
  "abcde",
  "abcdef",
  "ababe",
  "aaaa",
  "aaaa!",
  "Abc",
];

Deno.test("translated patterns match what ECMAScript's RegExp matches", () => {
  for (const pattern of PATTERNS) {
    const native = new RegExp(pattern, "u");
    const linear = compileLinearRegExp(pattern);
    for (const input of INPUTS) {
      assert.equal(
        linear.test(input),
        native.test(input),
        `${JSON.stringify(pattern)} (as ${
          JSON.stringify(toRe2Syntax(pattern))
        }) on ${JSON.stringify(input)}`,
      );
    }
  }
});

Deno.test("what RE2 cannot run is refused with the reason", () => {
  const cases: [string, RegExp][] = [
    ["^(a)\\1$", /backreferences \(\\1\)/],
    ["(?<n>a)\\k<n>", /backreferences \(\\k<name>\)/],
    ["a(?=b)", /lookahead/],
    ["a(?!b)", /lookahead/],
    ["(?<=a)b", /lookbehind/],
    ["(?<!a)b", /lookbehind/],
    ["(?s:a.b)", /the s modifier/],
    ["a{1001}", /RE2.*invalid repeat count/],
    ["\\p{sc=Grek}", /RE2/],
    ["(", /not a valid regular expression/],
    ["\\q", /not a valid regular expression/],
  ];
  for (const [pattern, reason] of cases) {
    assert.throws(
      () => compileLinearRegExp(pattern),
      (e: Error) => {
        assert.ok(e instanceof UnsupportedPatternError, pattern);
        assert.equal(e.pattern, pattern);
        assert.match(e.reason, reason, pattern);
        assert.match(e.message, /^Pattern ".*" cannot be used: /);
        return true;
      },
    );
  }
  // Turning s off keeps "." as it is.
  assert.equal(compileLinearRegExp("(?-s:a.b)").test("a\nb"), false);
});

Deno.test("patterns are bounded in length and compiled size", () => {
  const limits = { maxLength: 20, maxProgramSize: 50 };
  assert.throws(
    () => compileLinearRegExp("a".repeat(21), limits),
    /21 characters long; the limit is 20/,
  );
  assert.throws(
    () => compileLinearRegExp("[a-z]{60}", limits),
    /compiles to \d+ instructions; the limit is 50/,
  );
  assert.equal(
    compileLinearRegExp("[a-z]{40}", limits).test("a".repeat(40)),
    true,
  );
});

Deno.test("a pattern that backtracks catastrophically natively runs in linear time", () => {
  // Natively, each added "a" doubles the time: 2^40 steps for this input.
  const linear = compileLinearRegExp("^(a+)+$");
  const trivial = compileLinearRegExp("^a+$");
  const input = "a".repeat(100_000) + "!";
  const time = (re: { test(s: string): boolean }) => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      assert.equal(re.test(input), false);
      best = Math.min(best, performance.now() - t);
    }
    return best;
  };
  const baseline = time(trivial);
  const nested = time(linear);
  assert.ok(
    nested < Math.max(baseline, 1) * 50,
    `^(a+)+$ took ${nested} ms, ^a+$ ${baseline} ms`,
  );
});
