/** `GET /metrics`: this process's Prometheus metrics, for the admin token only. */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { problems } from "../openapi/schemas.ts";
import type { Authenticator } from "../http/authenticator.ts";
import { assertAdmin, type AuthVariables } from "../http/principal.ts";
import type { PlatformMetrics } from "./platform_metrics.ts";

export function metricsApp(
  metrics: PlatformMetrics,
  authenticator: Authenticator,
): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.get("/metrics", DOC, authenticator.middleware(), async (c) => {
    // Per-tenant figures: not for tenant tokens.
    assertAdmin(c.get("principal"), "read /metrics");
    return c.body(await metrics.text(), 200, {
      "content-type": metrics.contentType,
    });
  });
  return app;
}

/** The API description of the route (components/openapi). */
const DOC = describeRoute({
  operationId: "metrics",
  tags: ["service"],
  summary: "Prometheus metrics of this process (admin)",
  description:
    "Counters and histograms per tenant: events accepted and rejected (by " +
    "reason), executions (by status) and their duration, dead letters, " +
    "deploys; and, read from the store at each scrape, each queue's depth, " +
    "in-flight, delayed and dead letters. Each process serves its own: " +
    "scrape them all.",
  security: [{ bearerAuth: [] }],
  responses: {
    200: {
      description: "The Prometheus text exposition format (0.0.4)",
      content: { "text/plain": { schema: { type: "string" } } },
    },
    ...problems(401, 403),
  },
});
