import assert from "node:assert/strict";
import client from "prom-client";
import { GroupCommit, ReadBatcher, WriteBatch } from "@jobico/goico";
import { registerCommitMetrics } from "./commit_metrics.ts";

Deno.test("registerCommitMetrics: each scrape reads the group commit's counters", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const commits = new GroupCommit(kv);
    const registry = new client.Registry();
    registerCommitMetrics(registry, commits);
    const part = (i: number) => new WriteBatch(kv).set(["k", i], i);
    const value = (text: string, name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    let text = await registry.metrics();
    assert.equal(value(text, "jobico_listener_commits_total"), 0);
    assert.equal(value(text, "jobico_listener_committed_requests_total"), 0);
    await Promise.all([0, 1, 2].map((i) => commits.commit(part(i))));
    text = await registry.metrics();
    assert.equal(value(text, "jobico_listener_commits_total"), 1);
    assert.equal(value(text, "jobico_listener_committed_requests_total"), 3);
    const commitSecs = value(text, "jobico_listener_commit_seconds_total");
    const waitSecs = value(text, "jobico_listener_commit_wait_seconds_total");
    assert.ok(commitSecs > 0, `commit seconds ${commitSecs}`);
    // Three requests waited at least for the one commit each.
    assert.ok(waitSecs >= 3 * commitSecs, `${waitSecs} >= 3 x ${commitSecs}`);
  } finally {
    kv.close();
  }
});

Deno.test("registerCommitMetrics: with a read batcher, each scrape reads its reads and keys", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const reads = new ReadBatcher(kv);
    const registry = new client.Registry();
    registerCommitMetrics(registry, new GroupCommit(kv), reads);
    const value = (text: string, name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    let text = await registry.metrics();
    assert.equal(value(text, "jobico_listener_record_reads_total"), 0);
    await Promise.all([0, 1, 2].map((i) => reads.get(["k", i])));
    text = await registry.metrics();
    assert.equal(value(text, "jobico_listener_record_reads_total"), 1);
    assert.equal(value(text, "jobico_listener_record_read_keys_total"), 3);
  } finally {
    kv.close();
  }
});
