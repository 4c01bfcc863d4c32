/**
 * The execution streams in the platform's Prometheus registry, read from
 * `ExecutionStreams.stats()` at each scrape: streams open, streams ended by
 * how (a rising `dropped` or `cut` means clients fall behind), streams
 * refused for a limit, and the bytes waiting for clients. No tenant label:
 * an admin may open streams for any tenant name.
 */
import client from "prom-client";
import type { SseEnd } from "@jobico/goico";
import type { ExecutionStreams } from "./execution_streams.ts";

export function registerStreamMetrics(
  registry: client.Registry,
  streams: ExecutionStreams,
): void {
  const registers = [registry];
  new client.Gauge({
    name: "jobico_execution_streams_open",
    help: "Execution streams (SSE) open in this process",
    registers,
    collect() {
      this.set(streams.stats().open);
    },
  });
  new client.Gauge({
    name: "jobico_execution_streams_buffered_bytes",
    help: "Bytes waiting for the clients of the execution streams",
    registers,
    collect() {
      this.set(
        streams.stats().streams.reduce((n, s) => n + s.bufferedBytes, 0),
      );
    },
  });
  // Counters follow the totals kept by ExecutionStreams.
  const seen: Partial<Record<SseEnd, number>> = {};
  new client.Counter({
    name: "jobico_execution_streams_ended_total",
    help:
      "Execution streams that ended, by how: gone (the client left), dropped (it fell behind), cut (it fell behind and read nothing more), shutdown, closed",
    labelNames: ["how"],
    registers,
    collect() {
      for (const [how, n] of Object.entries(streams.stats().ended)) {
        const delta = n - (seen[how as SseEnd] ?? 0);
        if (delta > 0) this.inc({ how }, delta);
        seen[how as SseEnd] = n;
      }
    },
  });
  let refused = 0;
  new client.Counter({
    name: "jobico_execution_streams_refused_total",
    help:
      "Execution streams refused with 429 (JOBICO_MAX_STREAMS or JOBICO_MAX_STREAMS_PER_TENANT reached)",
    registers,
    collect() {
      const n = streams.stats().refused;
      if (n > refused) this.inc(n - refused);
      refused = n;
    },
  });
}
