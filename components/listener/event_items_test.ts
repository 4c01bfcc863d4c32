import assert from "node:assert/strict";
import { API_LIMITS, EventBody } from "../../api/mod.ts";
import { ApiCheck } from "../http/api_check.ts";
import { eventItems } from "./event_items.ts";
import { postTo, seen, stepApp } from "./_test_steps.ts";

async function items(body: unknown, maxItems?: number) {
  const app = stepApp({ body }, eventItems({ maxItems }), seen);
  const res = await postTo(app, "");
  return { status: res.status, body: await res.json() };
}

Deno.test("eventItems hands on the data list", async () => {
  const { status, body } = await items({ data: [{ name: "A" }, 2, null] });
  assert.equal(status, 200);
  assert.deepEqual(body.items, [{ name: "A" }, 2, null]);
});

Deno.test("eventItems refuses a body without a data list with a 400 showing the shape", async () => {
  const shape =
    'Event body must be an object with a "data" list: {"data": [item, ...]}';
  const bodies = [
    null,
    [],
    "data",
    42,
    {},
    { data: "x" },
    { data: { 0: "a", length: 1 } },
    { items: [1] },
    // What JSON.parse makes of {"__proto__": {"data": [1]}}: an own member.
    JSON.parse('{"__proto__": {"data": [1]}}'),
  ];
  for (const b of bodies) {
    const { status, body } = await items(b);
    assert.equal(status, 400, JSON.stringify(b));
    assert.equal(body.detail, shape);
  }
  const empty = await items({ data: [] });
  assert.equal(empty.status, 400);
  assert.equal(
    empty.body.detail,
    'The "data" list is empty: send at least one item',
  );
});

Deno.test("eventItems: more items than the limit is a 413 naming both counts", async () => {
  const at = await items({ data: Array(500).fill(1) });
  assert.equal(at.status, 200);
  const over = await items({ data: Array(501).fill(1) });
  assert.equal(over.status, 413);
  assert.equal(
    over.body.detail,
    'The "data" list has 501 items; the limit is 500 per request',
  );
  // A large count costs nothing more than its length.
  const many = await items({ data: Array(200_000).fill(0) }, 3);
  assert.equal(many.status, 413);
  assert.match(many.body.detail, /has 200000 items; the limit is 3/);
});

Deno.test("eventItems and the API's EventBody schema agree: valid, each kind of invalid, at and past each limit", async () => {
  const schema = new ApiCheck(EventBody);
  const max = API_LIMITS.eventItems;
  assert.equal(EventBody.properties.data.maxItems, max);
  const bodies: [string, unknown][] = [
    ["one item", { data: [{ name: "A" }] }],
    ["items of any JSON", { data: [1, "x", null, [], {}] }],
    ["another member beside data", { data: [1], note: "x" }],
    ["at the item limit", { data: Array(max).fill(1) }],
    ["one past it", { data: Array(max + 1).fill(1) }],
    ["far past it", { data: Array(max * 4).fill(0) }],
    ["at the low limit", { data: [0] }],
    ["below it: empty", { data: [] }],
    ["null", null],
    ["a list", []],
    ["a string", "data"],
    ["a number", 42],
    ["no data", {}],
    ["data not a list", { data: "x" }],
    ["data null", { data: null }],
    ["data like a list", { data: { 0: "a", length: 1 } }],
    ["another name", { items: [1] }],
    ["an own __proto__", JSON.parse('{"__proto__": {"data": [1]}}')],
  ];
  for (const [label, b] of bodies) {
    const issue = schema.issue(b);
    const { status } = await items(b);
    assert.equal(status === 200, issue === undefined, label);
    // Too many items is a 413 (a smaller request may pass), the rest a 400.
    if (issue) {
      assert.equal(status, issue.keyword === "maxItems" ? 413 : 400, label);
    }
  }
});
