/**
 * The problem+json body every error answers with (RFC 9457).
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { closed, int, oneOf } from "./_kit.ts";

/** One problem of a rejected package (400/422 on deploy). */
export const PackageIssue = closed({
  kind: oneOf(["syntax", "structure", "reference"] as const),
  path: Type.String({
    description: "Where in the package, e.g. jobs[0].event.supplierqueue",
  }),
  message: Type.String(),
  line: int("1-based line in the source", 1),
  col: int("1-based column in the source", 1),
});
export type PackageIssue = Static<typeof PackageIssue>;

/** One schema error of an event item, or a query parameter that was wrong. */
export const ItemError = closed({
  item: Type.Optional(int('Index in "data"', 0)),
  path: Type.Optional(
    Type.String({ description: "JSON Pointer into the item" }),
  ),
  parameter: Type.Optional(Type.String({
    description: "The query parameter that was wrong (delay, runAt, priority)",
  })),
  message: Type.String(),
});
export type ItemError = Static<typeof ItemError>;

/** An `application/problem+json` body. */
export const Problem = Type.Object({
  type: Type.String({ description: 'Always "about:blank"' }),
  title: Type.String({ description: "The status in words" }),
  status: Type.Integer({ minimum: 400, maximum: 599 }),
  detail: Type.String({ description: "What was wrong, naming the value" }),
  instance: Type.Optional(Type.String({ description: "The request path" })),
  issues: Type.Optional(Type.Array(PackageIssue, {
    description: "Every problem of a package (deploys)",
  })),
  errors: Type.Optional(Type.Array(ItemError, {
    description:
      "Every schema error of the event's items, or the query parameter that was wrong",
  })),
}, {
  description:
    "An error (RFC 9457 problem details). `detail` names what was wrong; " +
    "`issues` (package problems) or `errors` (schema errors of event " +
    "items) list several.",
  additionalProperties: true,
});
export type Problem = Static<typeof Problem>;
