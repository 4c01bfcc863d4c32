/**
 * The listener's group commit as Prometheus metrics, read from its counters
 * at each scrape (nothing is done per request): commits, the requests they
 * carried, the time commits were under way and the time requests waited
 * for theirs. Waited seconds over requests is the mean commit wait of a
 * request; requests over commits, how many shared one.
 */
import client from "prom-client";
import type { GroupCommit } from "@jobico/goico";

/** Adds the metrics of the listener's group commit to `registry`. */
export function registerCommitMetrics(
  registry: client.Registry,
  commits: GroupCommit,
): void {
  const counter = (
    name: string,
    help: string,
    read: (s: GroupCommit["stats"]) => number,
  ) =>
    new client.Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(commits.stats));
      },
    });
  counter(
    "jobico_listener_commits_total",
    "Storage commits of accepted events (each carries the requests that arrived meanwhile)",
    (s) => s.commits,
  );
  counter(
    "jobico_listener_committed_requests_total",
    "Requests whose events were committed",
    (s) => s.parts,
  );
  counter(
    "jobico_listener_commit_seconds_total",
    "Time storage commits of accepted events were under way",
    (s) => s.commitMs / 1000,
  );
  counter(
    "jobico_listener_commit_wait_seconds_total",
    "Time committed requests waited for their commit, summed over requests",
    (s) => s.waitMs / 1000,
  );
}
