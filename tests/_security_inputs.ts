/**
 * Hostile inputs for the security suite: odd names (decoded, as URL path
 * segments, and byte for byte), wrong Authorization headers, bodies padded
 * to a size, and malformed bodies of each kind a route parses.
 */

export const enc = new TextEncoder();
export const q = JSON.stringify;

/** Decoded odd names: for body fields and (encoded) query parameters. */
export const ODD_STRINGS = [
  "..",
  ".",
  "../../attacker",
  "../victim",
  "a/b",
  "a\\b",
  "\u0000",
  "a\u0000b",
  "été",
  "ｖｉｃｔｉｍ",
  "victim\u200b",
  "victim\n",
  "x".repeat(200),
  "-x",
  " ",
  "a b",
  "a?b",
  "a#b",
  "a:b",
];

/** Odd path segments, as written in the URL given to fetch. */
export function oddSegments(valid: string): string[] {
  return [
    "..",
    ".",
    "%2e%2e",
    "%2E",
    "..%2F..%2Fattacker",
    "..%2f..%2fvictim",
    `..%2F..%2Fvictim%2F${valid}`,
    `%2e%2e%2f%2e%2e%2fvictim%2f${valid}`,
    "a%2Fb",
    "..%5C..%5Cvictim",
    "%00",
    `${valid}%00`,
    "%C3%A9t%C3%A9",
    "ｖｉｃｔｉｍ",
    `${valid}%E2%80%8B`,
    `${valid}%0A`,
    "x".repeat(200),
    "%",
    "%ff",
    "-x",
    "a%20b",
    "a%3Fb",
    "a%23b",
    "a:b",
    "*",
  ];
}

/** Odd path segments sent byte for byte on the request line. */
export const RAW_SEGMENTS = [
  "..",
  ".",
  "%2e%2e",
  "%2E%2e",
  "..;",
  "a\\b",
  "été",
  "a%00b",
];

/** `text` padded with `fill` to `size` bytes. */
export function pad(
  text: string | Uint8Array,
  size: number,
  fill = " ",
): Uint8Array {
  const head = typeof text === "string" ? enc.encode(text) : text;
  const out = new Uint8Array(size).fill(fill.charCodeAt(0));
  out.set(head.subarray(0, size));
  return out;
}

/** A wasm module padded to `size` bytes with a custom section: still valid. */
export function padWasm(module: Uint8Array, size: number): Uint8Array {
  // Custom section: id 0, a 5-byte LEB128 length, a 1-byte name "p", the padding.
  const payload = size - module.length - 6;
  const section = new Uint8Array(size - module.length);
  let n = payload;
  for (let i = 1; i <= 5; i++) {
    section[i] = (n & 0x7f) | (i < 5 ? 0x80 : 0);
    n >>>= 7;
  }
  section[6] = 1;
  section[7] = 0x70;
  const out = new Uint8Array(size);
  out.set(module);
  out.set(section, module.length);
  return out;
}

/** A body shape and how a route parses it, for the malformed bodies. */
export type BodyKind = "json" | "json-or-none" | "event" | "yaml" | "file";

/** Malformed bodies of a kind, each within the route's size limit. */
export function malformedBodies(
  kind: BodyKind,
  limit: number,
): {
  label: string;
  body: string | Uint8Array;
  params?: Record<string, string>;
}[] {
  const depth = Math.min(100_000, Math.floor((limit - 32) / 2));
  const deep = "[".repeat(depth) + "]".repeat(depth);
  const badUtf8 = (before: string, after: string) =>
    new Uint8Array([
      ...enc.encode(before),
      0xff,
      0xfe,
      0xc0,
      0x80,
      ...enc.encode(after),
    ]);
  const json = [
    { label: "invalid JSON", body: "{" },
    { label: "JSON and garbage", body: "{} x" },
    { label: "single quotes", body: "{'a': 1}" },
    { label: "invalid UTF-8", body: badUtf8('{"id":"', '"}') },
    { label: `nested ${depth} deep`, body: deep },
    { label: "a list", body: "[]" },
    { label: "null", body: "null" },
    { label: "a string", body: '"x"' },
    {
      label: "__proto__",
      body: '{"__proto__":{"id":"x","version":1,"ids":["x"],"data":[{}]}}',
    },
  ];
  switch (kind) {
    case "json":
      return [...json, { label: "empty", body: "" }];
    case "json-or-none":
      // No body at all means "every dead letter": valid, so not tried here.
      return json;
    case "event":
      return [
        ...json,
        { label: "empty", body: "" },
        {
          label: "invalid UTF-8 in an item",
          body: badUtf8('{"data":[{"name":"', '"}]}'),
        },
        {
          label: `an item nested ${depth - 8} deep`,
          body: `{"data":[${"[".repeat(depth - 8)}${"]".repeat(depth - 8)}]}`,
        },
        { label: "data empty", body: '{"data":[]}' },
        { label: "data an object", body: '{"data":{"name":"x"}}' },
      ];
    case "yaml":
      return [
        { label: "invalid YAML", body: "id: [\n  - : {" },
        { label: "invalid UTF-8", body: badUtf8("id: ", "\ntenant: victim\n") },
        {
          label: "flow nested 20000 deep",
          body: "[".repeat(20000) + "]".repeat(20000),
        },
        {
          label: "block nested 300 deep",
          body: Array.from({ length: 300 }, (_, i) => " ".repeat(i) + "a:")
            .join("\n"),
        },
        {
          label: "alias bomb",
          body: [
            "a: &a [x, x, x, x, x, x, x, x, x, x]",
            ..."bcdefghi".split("").map((c, i) =>
              `${c}: &${c} [${Array(10).fill(`*${"abcdefghi"[i]}`).join(", ")}]`
            ),
          ].join("\n"),
        },
        { label: "empty", body: "" },
        { label: "a YAML list", body: "- a\n- b\n" },
        { label: "a JSON string", body: '"x"' },
        { label: "a tag", body: "!!binary x" },
      ];
    case "file":
      return [
        { label: "empty module", body: "" },
        { label: "not a module", body: "\0asm\x01\0\0\0garbage" },
        { label: "random bytes", body: new Uint8Array(64).fill(0xab) },
        ...[
          { label: "invalid JSON schema", body: "{" },
          {
            label: "schema in invalid UTF-8",
            body: badUtf8('{"title":"', '"}'),
          },
          {
            label: "schema nested 100000 deep",
            body: "[".repeat(100_000) + "]".repeat(100_000),
          },
          {
            label: "schema nested 10000 deep as objects",
            body: '{"items":'.repeat(10_000) + "{}" + "}".repeat(10_000),
          },
          { label: "empty schema", body: "" },
          { label: "schema a number", body: "1" },
          {
            label: "schema with a remote $ref",
            body: '{"$ref":"http://127.0.0.1:1/x.json"}',
          },
          {
            label: "schema with another tenant's $ref",
            body: '{"$ref":"victim-any.json"}',
          },
          {
            label: "schema with a file $ref",
            body: '{"$ref":"file:///etc/passwd"}',
          },
        ].map((b) => ({ ...b, params: { name: "odd.schema.json" } })),
      ];
  }
}

/** Wrong Authorization headers: each is a 401. */
export function wrongAuthorizations(
  tenantToken: string,
  adminToken: string,
): Record<string, string>[] {
  return [
    {},
    { authorization: "Bearer jbt_wrong" },
    { authorization: "Bearer" },
    { authorization: "Bearer " },
    { authorization: "Basic dmljdGltOnNlY3JldA==" },
    { authorization: "garbage" },
    { authorization: `Bearer jbt_${"A".repeat(43)}` },
    { authorization: `Bearer ${tenantToken}x` },
    { authorization: `Bearer ${tenantToken.slice(0, -1)}` },
    { authorization: `Bearer ${tenantToken.toUpperCase()}` },
    { authorization: `Token ${tenantToken}` },
    { authorization: `Bearer ${tenantToken} ${tenantToken}` },
    { authorization: `Bearer ${adminToken.slice(0, -1)}` },
    { authorization: `Bearer ${adminToken}x` },
    { authorization: `Bearer ${adminToken.slice(0, 1)}` },
    { authorization: `Bearer ${"a".repeat(5000)}` },
    { authorization: "Bearer jbt_\u00e9\u00e9" },
    { authorization: `Bearer ${tenantToken}, Bearer ${adminToken}` },
  ];
}
