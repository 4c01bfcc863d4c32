/** The execution a chained result event comes from. */
export interface ChainedFrom {
  /** The job event that ran. */
  event: string;
  eventId: string;
  executionId: string;
  /** The code it returned; null when it failed. */
  code: number | null;
  /** Why it failed, when it did. */
  error?: string;
}

/** What the listener (or a chained result) puts on a queue for the executor. */
export interface EventItem {
  tenant: string;
  package: string;
  /** The package version the item was accepted (and validated) under. */
  version: number;
  event: string;
  /** The id the listener answered with. */
  eventId: string;
  data: unknown;
  /** The W3C traceparent of the span that queued it, when tracing is on. */
  trace?: string;
  /** For a chained result event: the execution it comes from. */
  chainedFrom?: ChainedFrom;
  /** For a re-run: the execution whose input it sends again. */
  rerunOf?: string;
  /**
   * Its priority in its queue, when not normal: the request's
   * `?priority=`, else its event's (see goico/queue_priority.ts).
   */
  priority?: "high" | "low";
}
