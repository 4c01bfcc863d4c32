/**
 * The HTTP server's connections as Prometheus metrics, read from its
 * counters at each scrape: open and waiting connections, the limit, and
 * the connections the server closed or refused, by reason.
 */
import client from "prom-client";
import type { ConnectionLimits, ConnectionStats } from "@jobico/goico";

/** Adds the connection metrics of a server to `registry`. */
export function registerConnectionMetrics(
  registry: client.Registry,
  stats: () => ConnectionStats | undefined,
  limits: ConnectionLimits,
): void {
  const registers = [registry];
  new client.Gauge({
    name: "jobico_http_connections",
    help: "Open HTTP connections",
    registers,
    collect() {
      this.set(stats()?.open ?? 0);
    },
  });
  new client.Gauge({
    name: "jobico_http_connections_waiting",
    help:
      "Open HTTP connections without a request in progress (new, slow or idle keep-alive)",
    registers,
    collect() {
      this.set(stats()?.waiting ?? 0);
    },
  });
  new client.Gauge({
    name: "jobico_http_connections_max",
    help:
      "The connection limit (JOBICO_MAX_CONNECTIONS or from the file descriptor limit)",
    registers,
    collect() {
      this.set(limits.maxConnections);
    },
  });
  new client.Counter({
    name: "jobico_http_connections_accepted_total",
    help: "HTTP connections accepted",
    registers,
    collect() {
      this.reset();
      this.inc(stats()?.accepted ?? 0);
    },
  });
  new client.Counter({
    name: "jobico_http_connections_closed_total",
    help:
      "HTTP connections the server closed or refused: header_timeout, idle_timeout, request_timeout, evicted (to make room), rejected (503, all busy), fd_exhausted (accept failed)",
    labelNames: ["reason"],
    registers,
    collect() {
      this.reset();
      const s = stats();
      if (!s) return;
      this.inc({ reason: "header_timeout" }, s.timedOut.header);
      this.inc({ reason: "idle_timeout" }, s.timedOut.idle);
      this.inc({ reason: "request_timeout" }, s.timedOut.request);
      this.inc({ reason: "evicted" }, s.evicted);
      this.inc({ reason: "rejected" }, s.rejected);
      this.inc({ reason: "fd_exhausted" }, s.fdExhausted);
    },
  });
}
