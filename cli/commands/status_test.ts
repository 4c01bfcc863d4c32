import assert from "node:assert/strict";
import { monotonicIdFactory, WriteBatch } from "@jobico/goico";
import { startPlatform } from "../../components/platform.ts";
import { RetentionSweeper } from "../../components/retention/retention_sweeper.ts";
import { startHarness } from "../../tests/_harness.ts";
import {
  captureIo,
  type CaptureOptions,
  closedPortUrl,
} from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

Deno.test("platform: status shows the health, each component, the sandbox, definitions and limits", async () => {
  const h = await startHarness({ workers: 2, limits: { timeoutMs: 2500 } });
  try {
    let r = await jobico(["status", "--token", h.adminToken, "--url", h.url]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "");
    const [fields, table] = r.out.split("\n\n");
    assert.match(fields, new RegExp(`^url\\s+${h.url}\\nstatus\\s+ok\\n`));
    assert.match(fields, /\nname\s+jobico\nversion\s+\d+\.\d+\.\d+\n/);
    assert.match(
      fields,
      /\ncomponents\s+ctl, repo, listener, executor, recorder\n/,
    );
    assert.match(fields, /\nchecks\s+kv=ok\n/);
    assert.match(fields, /\nsandbox\s+2 workers, 0 busy\n/);
    assert.match(fields, /\ndefinitions\s+0 changes deployed, all loaded\n/);
    assert.match(
      fields,
      /\nlimits\s+timeout 2\.50s, memory 128 MiB, fuel 1,000,000,000, retries 3\n?$/,
    );
    assert.match(table, /^COMPONENT\s+STATUS\s+PROCESS\n/);
    // With a token, the retention and usage follow the table.
    for (const c of ["ctl", "repo", "listener", "executor", "recorder"]) {
      assert.match(table, new RegExp(`\\n${c}\\s+ok\\s+${h.url}(\\n|$)`));
    }

    // Without a token: the health, and what /meta tells anyone.
    const open = await jobico(["status", "--url", h.url]);
    assert.equal(open.code, 0, open.err);
    assert.match(open.out, /\ncomponents\s+unknown: .*with a token/);
    assert.match(open.out, /\nchecks\s+kv=ok\n/);

    r = await jobico([
      "status",
      "--token",
      h.adminToken,
      "--url",
      h.url,
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out);
    assert.equal(json.status, "ok");
    assert.equal(json.url, h.url);
    assert.equal(json.health.status, "ok");
    assert.deepEqual(json.meta.sandbox, { workers: 2, busy: 0 });
    assert.equal(json.meta.limits.timeoutMs, 2500);
    assert.equal(typeof json.meta.definitionsGeneration, "number");
    assert.deepEqual(
      json.components.map((c: { name: string; status: string }) => [
        c.name,
        c.status,
      ]),
      [
        ["ctl", "ok"],
        ["repo", "ok"],
        ["listener", "ok"],
        ["executor", "ok"],
        ["recorder", "ok"],
      ],
    );
    assert.equal(json.processes.length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("platform: status of a platform in two processes, and with one unreachable", async () => {
  const h = await startHarness({ components: ["ctl", "repo", "listener"] });
  const executor = await startPlatform({
    kv: h.kv,
    adminToken: h.adminToken,
    components: ["executor", "recorder"],
    workers: 1,
    port: 0,
  });
  try {
    // Only the first process: what it does not run is absent, and said so.
    let r = await jobico(["status", "--token", h.adminToken, "--url", h.url]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\nexecutor\s+absent\s+not run by this process/);

    r = await jobico([
      "status",
      "--token",
      h.adminToken,
      "--url",
      h.url,
      executor.url,
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out);
    assert.deepEqual(
      Object.fromEntries(
        json.components.map((
          c: { name: string; urls: string[] },
        ) => [c.name, c.urls]),
      ),
      {
        ctl: [h.url],
        repo: [h.url],
        listener: [h.url],
        executor: [executor.url],
        recorder: [executor.url],
      },
    );
    assert.deepEqual(json.processes[1].meta.sandbox, { workers: 1, busy: 0 });

    const closed = closedPortUrl();
    r = await jobico([
      "status",
      "--token",
      h.adminToken,
      "--url",
      h.url,
      executor.url,
      closed,
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      new RegExp(`\\nurl\\s+${closed}\\nstatus\\s+unreachable\\n`),
    );
    assert.match(r.out, new RegExp(`\\nexecutor\\s+ok\\s+${executor.url}\\n`));
    assert.match(
      r.err,
      new RegExp(
        `^error: The platform at ${closed} is unreachable \\(Cannot reach Jobico at ${closed}: .*\\)\\nhint: Is every process running\\? Start them with: jobico serve\\n$`,
      ),
    );

    r = await jobico([
      "status",
      "--token",
      h.adminToken,
      "--url",
      h.url,
      "ftp://x",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: Invalid process URL "ftp:\/\/x"\nhint: /);
  } finally {
    await executor.close();
    await h.close();
  }
});

Deno.test("platform: status with a token shows the retention, quotas, the sweeper's last pass and each tenant's usage", async () => {
  const h = await startHarness({
    sweepIntervalMs: 0,
    retention: { days: 3 },
    quotas: { files: 2 },
  });
  try {
    await h.upload("demo", "a.json", "{}");
    await h.upload("demo", "b.json", "{}");
    // A pass that removed something is what status tells of the sweeper.
    const idAt = monotonicIdFactory(() => Date.now() - 4 * 24 * 3600 * 1000);
    const old = h.platform.executions.fit({
      id: idAt(),
      eventId: "e",
      tenant: "demo",
      package: "p",
      event: "ev",
      queue: "q",
      status: "ok",
      code: 0,
      result: null,
      error: null,
      logs: [],
      attempt: 1,
      startedAt: new Date().toISOString(),
      durationMs: 1,
    });
    await h.platform.executions.recordAll(new WriteBatch(h.kv), [old]).commit();
    const sweeper = new RetentionSweeper({
      kv: h.kv,
      executions: h.platform.executions,
      ledger: h.platform.ledger,
      policies: h.platform.policies,
      holder: "sweeper-1",
    });
    assert.equal((await sweeper.pass())?.executions, 1);

    let r = await jobico(["status", "--url", h.url, "--token", h.adminToken]);
    assert.equal(r.code, 0, r.err);
    const [, , defaults, table] = r.out.split("\n\n");
    assert.match(
      defaults,
      /^retention\s+executions: 3 days, at most 100,000; versions: 10 per package, and those queued events use\n/,
    );
    assert.match(defaults, /\nquotas\s+2 files and 1\.0 GiB per tenant\n/);
    assert.match(
      defaults,
      /\nlast sweep\s+\S+ ago by sweeper-1: 1 executions, 0 versions, 0 blobs removed\n?$/,
    );
    assert.match(
      table,
      /^TENANT\s+FILES\s+BYTES\s+VERSIONS\s+EXECUTIONS\s+RETENTION\ndemo\s+2 of 2 \(100%\)\s+2 B of 1\.0 GiB\s+0\s+0\s+3d\/100,000\/10v\n$/,
    );

    r = await jobico([
      "status",
      "--url",
      h.url,
      "--token",
      h.adminToken,
      "--json",
    ]);
    const json = JSON.parse(r.out);
    assert.deepEqual(json.storage.retention.quotas, {
      files: 2,
      bytes: 1024 ** 3,
      maxConcurrency: 0,
    });
    assert.equal(json.storage.retention.sweeper.last.holder, "sweeper-1");
    assert.deepEqual(json.storage.tenants[0].usage, {
      files: 2,
      bytes: 2,
      versions: 0,
      executions: 0,
    });

    // Without a token: the health only, as before.
    r = await jobico(["status", "--url", h.url, "--json"]);
    assert.equal(JSON.parse(r.out).storage, undefined);
  } finally {
    await h.close();
  }
});
