/**
 * A route handler that carries its API description itself, instead of a
 * `describeRoute(...)` middleware placed before it: hono-openapi finds the
 * description on either (it reads its `uniqueSymbol` off each route's
 * handler), but the middleware is one more async step on every request
 * (an `await next()` and Hono's compose around it). For hot routes (the
 * webhook); elsewhere `describeRoute` before the handler reads better.
 */
import type { Handler, MiddlewareHandler } from "hono";
import { uniqueSymbol } from "hono-openapi";

/**
 * `handler`, described as `doc` (what `describeRoute` returned) describes
 * it.
 *
 * @example
 * ```ts
 * app.post("/events/:tenant/:event", documented(SEND_EVENT_DOC, pipeline(...)));
 * ```
 */
export function documented<H extends Handler>(
  doc: MiddlewareHandler,
  handler: H,
): H {
  const description = (doc as unknown as Record<symbol, unknown>)[
    uniqueSymbol
  ];
  if (description === undefined) {
    throw new TypeError("documented: doc is not a describeRoute(...) result");
  }
  return Object.assign(handler, { [uniqueSymbol]: description });
}
