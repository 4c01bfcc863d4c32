/**
 * An id and a queue record's JSON holding it twice: `monotonicId` (one
 * flat string) against the same id joined from its three parts, as it was
 * made before (a rope, which JSON.stringify and a KV key flatten first).
 *
 * Run: deno bench bench/monotonic_id_bench.ts
 */
import { monotonicId } from "@jobico/goico";
import { queuedRecord as record } from "./_queued_record.ts";

let counter = 0;
function joinedId(): string {
  counter = (counter + 1) % 36 ** 4;
  const rnd = Math.floor(Math.random() * 36 ** 6);
  return Date.now().toString(36).padStart(9, "0") +
    counter.toString(36).padStart(4, "0") +
    rnd.toString(36).padStart(6, "0");
}

// Kept where the optimizer cannot drop the work.
const keep = globalThis as { benchSink?: unknown };
Deno.bench(
  "id joined from three parts",
  { group: "id", baseline: true },
  () => {
    keep.benchSink = joinedId();
  },
);
Deno.bench("monotonicId", { group: "id" }, () => {
  keep.benchSink = monotonicId();
});
Deno.bench(
  "joined id, then the record's JSON",
  { group: "record", baseline: true },
  () => {
    keep.benchSink = JSON.stringify(record(joinedId()));
  },
);
Deno.bench("monotonicId, then the record's JSON", { group: "record" }, () => {
  keep.benchSink = JSON.stringify(record(monotonicId()));
});
