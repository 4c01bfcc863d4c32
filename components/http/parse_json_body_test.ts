import assert from "node:assert/strict";
import { ValidationError } from "@jobico/goico";
import {
  DEFAULT_MAX_JSON_DEPTH,
  jsonNesting,
  parseJsonBody,
} from "./parse_json_body.ts";

const nested = (n: number) => "[".repeat(n) + "]".repeat(n);

Deno.test("jsonNesting counts arrays and objects, not brackets in strings", () => {
  assert.deepEqual(jsonNesting("1"), { depth: 0, offset: -1 });
  assert.deepEqual(jsonNesting("[]"), { depth: 1, offset: -1 });
  assert.deepEqual(jsonNesting('{"a": [1, {"b": []}]}'), {
    depth: 4,
    offset: -1,
  });
  assert.equal(jsonNesting('["[[[[", "\\"[[[", "\\\\", ["]"]]').depth, 2);
  assert.deepEqual(jsonNesting(" [[[1]], [[[2]]]]", 3), {
    depth: 4,
    offset: 11,
  });
});

Deno.test("parseJsonBody parses up to the limit and refuses deeper bodies with the depth and the limit", () => {
  assert.deepEqual(parseJsonBody('{"data": [{"a": 1}]}', "Event body"), {
    data: [{ a: 1 }],
  });
  const deepest = nested(DEFAULT_MAX_JSON_DEPTH);
  assert.equal(
    jsonNesting(JSON.stringify(parseJsonBody(deepest, "Event body"))).depth,
    DEFAULT_MAX_JSON_DEPTH,
  );
  assert.throws(
    () => parseJsonBody(nested(DEFAULT_MAX_JSON_DEPTH + 1), "Event body"),
    (e: Error) => {
      assert.ok(e instanceof ValidationError);
      assert.equal(
        e.message,
        "Event body nests arrays and objects 65 levels deep; the limit is 64",
      );
      assert.deepEqual(e.extra, { depth: 65, limit: 64, offset: 64 });
      return true;
    },
  );
  assert.throws(
    () => parseJsonBody('{"a": {"b": {}}}', "Body", { maxDepth: 2 }),
    /Body nests arrays and objects 3 levels deep; the limit is 2/,
  );
});

Deno.test("a body of a million brackets is refused without recursion, in about the time of a flat body", () => {
  const deep = "[".repeat(1_000_000);
  const flat = JSON.stringify(Array(200_000).fill(0)); // about as long
  const time = (text: string) => {
    const t = performance.now();
    try {
      parseJsonBody(text, "Event body");
    } catch (e) {
      assert.ok(e instanceof ValidationError);
    }
    return performance.now() - t;
  };
  time(flat);
  const baseline = time(flat);
  const refused = time(deep);
  assert.ok(
    refused < Math.max(baseline, 1) * 50,
    `deep ${refused} ms, flat ${baseline} ms`,
  );
  assert.throws(
    () => parseJsonBody(deep, "Event body"),
    /1000000 levels deep; the limit is 64/,
  );
});

Deno.test("invalid JSON is a 400 naming what was parsed", () => {
  for (const text of ["", "{", '{"a": 1,}', "[1] [2]", "\u0000"]) {
    assert.throws(
      () => parseJsonBody(text, "Event body"),
      (e: Error) => {
        assert.ok(e instanceof ValidationError);
        assert.match(e.message, /^Event body is not valid JSON: /);
        return true;
      },
    );
  }
});
