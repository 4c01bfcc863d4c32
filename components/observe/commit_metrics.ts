/**
 * The listener's group commit as Prometheus metrics, read from its counters
 * at each scrape (nothing is done per request): commits, the requests they
 * carried, the time commits were under way and the time requests waited
 * for theirs. Waited seconds over requests is the mean commit wait of a
 * request; requests over commits, how many shared one. With its read
 * batcher, also the reads of the records requests are checked against
 * (Idempotency-Keys, signatures' replay records) and the keys they
 * carried.
 */
import client from "prom-client";
import type { GroupCommit, ReadBatcher } from "@jobico/goico";

/** Adds the metrics of the listener's group commit (and read batcher) to `registry`. */
export function registerCommitMetrics(
  registry: client.Registry,
  commits: GroupCommit,
  reads?: ReadBatcher,
): void {
  const counter = (name: string, help: string, read: () => number) =>
    new client.Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter(
    "jobico_listener_commits_total",
    "Storage commits of accepted events (each carries the requests that arrived meanwhile)",
    () => commits.stats.commits,
  );
  counter(
    "jobico_listener_committed_requests_total",
    "Requests whose events were committed",
    () => commits.stats.parts,
  );
  counter(
    "jobico_listener_commit_seconds_total",
    "Time storage commits of accepted events were under way",
    () => commits.stats.commitMs / 1000,
  );
  counter(
    "jobico_listener_commit_wait_seconds_total",
    "Time committed requests waited for their commit, summed over requests",
    () => commits.stats.waitMs / 1000,
  );
  if (!reads) return;
  counter(
    "jobico_listener_record_reads_total",
    "Reads of the records requests are checked against (Idempotency-Keys, signatures' replay records), each carrying the keys asked meanwhile",
    () => reads.stats.reads,
  );
  counter(
    "jobico_listener_record_read_keys_total",
    "Keys of those records read",
    () => reads.stats.keys,
  );
}
