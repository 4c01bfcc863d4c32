/**
 * The platform's Prometheus metrics, per tenant, in a registry of its own
 * (no process-wide state): events accepted and rejected (by reason),
 * executions (by status) and their duration, dead letters, deploys, and,
 * read from the store at each scrape, queue depth, in-flight and dead
 * letters. Served at `GET /metrics` (admin token) in the text format.
 *
 * Tenant labels come only from tenants that exist (a request for an
 * unknown tenant counts under "-"), so callers cannot grow the label set.
 */
import client from "prom-client";
import type { DurableQueue } from "@jobico/goico";
import type { EventItem } from "../model/event_item.ts";
import { queueRefOf } from "../model/queue_ref.ts";

/** Why the listener refused a request: the label of `jobico_events_rejected_total`. */
export type RejectReason =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "too_large"
  | "backpressure"
  | "rate_limited"
  | "other";

/** What a flow limit did to accepted items (components/flow/). */
export type FlowAction = "throttled" | "debounced";

/** Most queues whose gauges one scrape reads. */
const MAX_SCRAPED_QUEUES = 1000;

export class PlatformMetrics {
  readonly registry = new client.Registry();
  readonly #accepted: client.Counter<"tenant" | "event">;
  readonly #rejected: client.Counter<"tenant" | "reason">;
  readonly #executed: client.Counter<"tenant" | "status">;
  readonly #duration: client.Histogram<"tenant" | "status">;
  readonly #dead: client.Counter<"tenant">;
  readonly #deploys: client.Counter<"tenant">;
  readonly #flow: client.Counter<"tenant" | "event" | "action">;

  constructor(queue?: DurableQueue<EventItem>) {
    const registers = [this.registry];
    this.#accepted = new client.Counter({
      name: "jobico_events_accepted_total",
      help: "Event items the listener accepted and queued",
      labelNames: ["tenant", "event"],
      registers,
    });
    this.#rejected = new client.Counter({
      name: "jobico_events_rejected_total",
      help: "Event requests the listener refused, by reason",
      labelNames: ["tenant", "reason"],
      registers,
    });
    this.#executed = new client.Counter({
      name: "jobico_executions_total",
      help: "Executions recorded, by status (ok, error, failed)",
      labelNames: ["tenant", "status"],
      registers,
    });
    this.#duration = new client.Histogram({
      name: "jobico_execution_duration_seconds",
      help: "Wall-clock time of an execution in the sandbox",
      labelNames: ["tenant", "status"],
      buckets: [
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        1,
        5,
      ],
      registers,
    });
    this.#dead = new client.Counter({
      name: "jobico_dead_letters_total",
      help: "Events moved to their queue's dead letters",
      labelNames: ["tenant"],
      registers,
    });
    this.#deploys = new client.Counter({
      name: "jobico_deploys_total",
      help: "Package versions made current (deploys and rollbacks)",
      labelNames: ["tenant"],
      registers,
    });
    this.#flow = new client.Counter({
      name: "jobico_events_flow_total",
      help:
        "Accepted event items a rate limit put off (throttled) or a debounce merged into another (debounced)",
      labelNames: ["tenant", "event", "action"],
      registers,
    });
    if (queue) this.#queueGauges(queue);
  }

  /** Counts items a rate limit put off or a debounce merged. */
  flowed(tenant: string, event: string, action: FlowAction, items: number) {
    if (items > 0) this.#flow.inc({ tenant, event, action }, items);
  }

  accepted(tenant: string, event: string, items: number): void {
    this.#accepted.inc({ tenant, event }, items);
  }

  rejected(tenant: string, reason: RejectReason): void {
    this.#rejected.inc({ tenant, reason });
  }

  executed(tenant: string, status: string, durationMs: number): void {
    this.#executed.inc({ tenant, status });
    this.#duration.observe({ tenant, status }, durationMs / 1000);
  }

  deadLettered(tenant: string): void {
    this.#dead.inc({ tenant });
  }

  deployed(tenant: string): void {
    this.#deploys.inc({ tenant });
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #queueGauges(queue: DurableQueue<EventItem>): void {
    const labelNames = ["tenant", "queue"] as const;
    // Read from the store once per scrape, by whichever gauge is collected
    // first; the others wait for the same read.
    let reading: Promise<void> | undefined;
    const collect = () => {
      reading ??= (async () => {
        try {
          for (const g of Object.values(gauges)) g.reset();
          const names = (await queue.queueNames()).slice(
            0,
            MAX_SCRAPED_QUEUES,
          );
          for (const name of names) {
            const ref = queueRefOf(name);
            const labels = { tenant: ref.tenant, queue: ref.queue };
            const s = await queue.stats(name);
            gauges.depth.set(labels, s.depth);
            gauges.inFlight.set(labels, s.inFlight);
            gauges.delayed.set(labels, s.delayed);
            gauges.dead.set(labels, s.dead);
          }
        } finally {
          setTimeout(() => (reading = undefined), 0);
        }
      })();
      return reading;
    };
    const gauge = (name: string, help: string) =>
      new client.Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect,
      });
    const gauges = {
      depth: gauge("jobico_queue_depth", "Events waiting in a queue"),
      inFlight: gauge(
        "jobico_queue_in_flight",
        "Events of a queue being executed",
      ),
      delayed: gauge(
        "jobico_queue_delayed",
        "Events of a queue waiting for a retry",
      ),
      dead: gauge("jobico_queue_dead_letters", "Dead letters a queue holds"),
    };
  }
}
