/**
 * For benchmarks: a queue's record of an event item as the listener queues
 * it (goico's `QueuedItem` of an `EventItem`), with the given id.
 */
export function queuedRecord(id: string) {
  return {
    id,
    queue: "bench/pings",
    value: {
      tenant: "bench",
      package: "bench",
      version: 1,
      event: "ping",
      eventId: id,
      data: { n: 1, name: "Ada" },
    },
    attempt: 1,
    failures: 0,
    enqueuedAt: 1_733_000_000_000,
  };
}
