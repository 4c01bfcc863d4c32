import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { deployGreet } from "../../tests/_harness.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { captureIo, type CaptureOptions, fakeFetch } from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

const noFetch = fakeFetch(() => {
  throw new Error("fetch must not be called");
});

Deno.test("send --delay, queues delayed, events cancel and executions rerun over a real platform", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await deployGreet(h);
    const env = { JOBICO_URL: h.url, JOBICO_TOKEN: h.adminToken };
    const sent = await jobico([
      "send",
      "demo",
      "greet",
      '{"name":"Later"}',
      "--delay",
      "1h",
      "--json",
    ], { env });
    assert.equal(sent.code, 0, sent.err);
    const { ids, runAt } = JSON.parse(sent.out);
    assert.ok(Date.parse(runAt) > Date.now() + 3_500_000);
    const human = await jobico(
      ["send", "demo", "greet", '{"name":"Soon"}', "--run-at", runAt],
      { env },
    );
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, new RegExp(`, to run ${runAt}\\n`));
    const listed = await jobico(["queues", "delayed", "demo", "greetings"], {
      env,
    });
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, new RegExp(`^${ids[0]}  greet  runs `));
    assert.equal(listed.out.trim().split("\n").length, 2);
    const cancelled = await jobico(
      ["events", "cancel", "demo", "greet", ids[0]],
      { env },
    );
    assert.equal(cancelled.code, 0, cancelled.err);
    assert.match(
      cancelled.out,
      new RegExp(`^Cancelled ${ids[0]} \\(delayed, was to run `),
    );
    const again = await jobico(["events", "cancel", "demo", "greet", ids[0]], {
      env,
    });
    assert.equal(again.code, 1);
    assert.match(again.err, /has no waiting or delayed item/);
    // Re-run an execution.
    await h.send("demo", "greet", [{ name: "Ada" }]);
    const [exec] = (await h.waitFor(
      "demo",
      (e) => e.some((x) => x.event === "greet"),
    )).filter((x) => x.event === "greet");
    const rerun = await jobico(
      ["executions", "rerun", "demo", exec.id, "--json"],
      { env },
    );
    assert.equal(rerun.code, 0, rerun.err);
    const [res] = JSON.parse(rerun.out);
    assert.equal(res.rerunOf, exec.id);
    const execs = await h.waitFor(
      "demo",
      (e) => e.some((x) => x.rerunOf === exec.id),
    );
    const copy = execs.find((x) => x.rerunOf === exec.id)!;
    assert.deepEqual(copy.input, { name: "Ada" });
    assert.equal(copy.eventId, res.ids[0]);
  } finally {
    await h.close();
  }
});

Deno.test("send: --delay with --run-at is a usage mistake, exit 2 without calling the platform", async () => {
  const r = await jobico([
    "send",
    "demo",
    "greet",
    "{}",
    "--delay",
    "5m",
    "--run-at",
    "2030-01-01T00:00:00Z",
  ], { fetch: noFetch });
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /^error: Pass either --delay or --run-at, not both\nhint: /,
  );
  assert.equal(noFetch.requests.length, 0);
});

Deno.test("deploy --dry-run shows a schedule added and a bad one at its line and column", async () => {
  const h = await startHarness({ workers: 1 });
  const dir = await Deno.makeTempDir();
  try {
    await h.upload("acme", "echo.wasm", await compileWat("echo"));
    await h.upload("acme", "any.json", '{"type":"object"}');
    const yaml = (schedule: string) =>
      `id: cron
tenant: acme
queues:
  - id: q
jobs:
  - event:
      id: tick
      schema: { id: s, schemaref: any.json }
      supplierqueue: q
      runtime: echo
${schedule}runtimes:
  - id: echo
    moduleref: echo.wasm
`;
    await h.deploy(yaml(""));
    const env = { JOBICO_URL: h.url, JOBICO_TOKEN: h.adminToken };
    const file = `${dir}/job.yaml`;
    await Deno.writeTextFile(
      file,
      yaml('      schedule: {cron: "0 6 * * 1-5", timezone: Europe/Madrid}\n'),
    );
    const plan = await jobico(["deploy", file, "--dry-run"], { env });
    assert.equal(plan.code, 0, plan.err);
    assert.match(
      plan.out,
      /~ event tick: schedule \(not set\) → 0 6 \* \* 1-5 \(Europe\/Madrid\)/,
    );
    await Deno.writeTextFile(file, yaml('      schedule: "* * * * * *"\n'));
    const bad = await jobico(["deploy", file, "--dry-run"], { env });
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.err,
      /job.yaml:11:17: Schedule "\* \* \* \* \* \*" fires every 1 s: schedules may fire at most once every 1 min/,
    );
  } finally {
    await h.close();
    await Deno.remove(dir, { recursive: true });
  }
});
