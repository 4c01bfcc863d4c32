import type { MiddlewareHandler } from "hono";
import { UnauthorizedError } from "../goico/mod.ts";

/**
 * Requires `Authorization: Bearer <token>` when a token is configured.
 * Compares in constant time.
 */
export function bearerAuth(token: string | undefined): MiddlewareHandler {
  const expected = token ? new TextEncoder().encode(token) : null;
  return async (c, next) => {
    if (expected) {
      const header = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (!m) {
        throw new UnauthorizedError(
          "Missing bearer token: send Authorization: Bearer <token>",
        );
      }
      if (!timingSafeEqual(new TextEncoder().encode(m[1].trim()), expected)) {
        throw new UnauthorizedError("Wrong bearer token");
      }
    }
    await next();
  };
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) {
    diff |= (a[i % (a.length || 1)] ?? 0) ^ b[i];
  }
  return diff === 0;
}
