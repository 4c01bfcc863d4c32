import assert from "node:assert/strict";
import { jsonBody } from "./json_body.ts";
import { postTo, seen, stepApp } from "./_test_steps.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

async function parse(given: Uint8Array, maxDepth?: number) {
  const app = stepApp({ bodyBytes: given }, jsonBody({ maxDepth }), seen);
  const res = await postTo(app, "");
  return { status: res.status, body: await res.json() };
}

Deno.test("jsonBody parses the bytes as UTF-8 JSON", async () => {
  const { status, body } = await parse(bytes('{"data":[{"name":"Zoë 🙂"}]}'));
  assert.equal(status, 200);
  assert.deepEqual(body.body, { data: [{ name: "Zoë 🙂" }] });
});

Deno.test("jsonBody refuses what is not JSON, or not UTF-8, with a 400 saying which", async () => {
  const cases: [Uint8Array, RegExp][] = [
    [bytes(""), /^Event body is not valid JSON/],
    [bytes("{data: []}"), /^Event body is not valid JSON/],
    [bytes('{"data": []} trailing'), /^Event body is not valid JSON/],
    // Overlong "/", a lone surrogate, a cut sequence: not UTF-8.
    [
      new Uint8Array([0x7b, 0xc0, 0xaf, 0x7d]),
      /^Event body is not valid UTF-8$/,
    ],
    [new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), /not valid UTF-8/],
    [new Uint8Array([0x22, 0xe2, 0x82]), /not valid UTF-8/],
  ];
  for (const [given, detail] of cases) {
    const { status, body } = await parse(given);
    assert.equal(status, 400, String(given));
    assert.match(body.detail, detail);
  }
});

Deno.test("jsonBody refuses a body nested past the limit without parsing it", async () => {
  // 1,000,000 levels: a recursive walk of the parsed value would overflow.
  const depth = 1_000_000;
  const deep = bytes(`{"data":[${"[".repeat(depth)}${"]".repeat(depth)}]}`);
  const { status, body } = await parse(deep);
  assert.equal(status, 400);
  assert.equal(
    body.detail,
    `Event body nests arrays and objects ${
      depth + 2
    } levels deep; the limit is 64`,
  );
  // Brackets inside strings do not count; an explicit limit holds.
  assert.equal(
    (await parse(bytes(`{"data":["${"[".repeat(1000)}"]}`))).status,
    200,
  );
  assert.equal((await parse(bytes('{"data":[[[1]]]}'), 3)).status, 400);
  assert.equal((await parse(bytes('{"data":[[1]]}'), 3)).status, 200);
});
