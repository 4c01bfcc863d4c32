import assert from "node:assert/strict";
import client from "prom-client";
import type { ConnectionStats } from "@jobico/goico";
import { registerConnectionMetrics } from "./connection_metrics.ts";

Deno.test("registerConnectionMetrics: each scrape reads the server's counters", async () => {
  const registry = new client.Registry();
  const stats: ConnectionStats = {
    open: 7,
    waiting: 3,
    accepted: 120,
    rejected: 2,
    evicted: 40,
    timedOut: { header: 5, idle: 6, request: 1 },
    fdExhausted: 0,
  };
  registerConnectionMetrics(registry, () => stats, {
    maxConnections: 896,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 5_000,
    requestTimeoutMs: 60_000,
  });
  let text = await registry.metrics();
  for (
    const line of [
      "jobico_http_connections 7",
      "jobico_http_connections_waiting 3",
      "jobico_http_connections_max 896",
      "jobico_http_connections_accepted_total 120",
      'jobico_http_connections_closed_total{reason="header_timeout"} 5',
      'jobico_http_connections_closed_total{reason="idle_timeout"} 6',
      'jobico_http_connections_closed_total{reason="request_timeout"} 1',
      'jobico_http_connections_closed_total{reason="evicted"} 40',
      'jobico_http_connections_closed_total{reason="rejected"} 2',
      'jobico_http_connections_closed_total{reason="fd_exhausted"} 0',
    ]
  ) assert.ok(text.includes(line + "\n"), `${line} in ${text}`);
  stats.accepted = 121;
  stats.open = 8;
  text = await registry.metrics();
  assert.ok(text.includes("jobico_http_connections_accepted_total 121\n"));
  assert.ok(text.includes("jobico_http_connections 8\n"));
});
