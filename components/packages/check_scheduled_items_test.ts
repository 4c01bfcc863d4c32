import assert from "node:assert/strict";
import { ValidationError } from "@jobico/goico";
import {
  examples,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";

const greetYaml = () => Deno.readTextFile(new URL("job.yaml", examples));
const scheduled = (yaml: string, schedule: string) =>
  yaml.replace(
    "      runtime: greet-c\n",
    `      runtime: greet-c\n${schedule}\n`,
  );

Deno.test("deploy checks what a schedule sends against the event's schema", async () => {
  const p = await testPlatform();
  try {
    await uploadGreetFiles(p);
    const yaml = await greetYaml();
    // greet.schema.json requires "name": {scheduledAt} alone does not match.
    const bare = scheduled(yaml, '      schedule: "0 * * * *"');
    for (
      const attempt of [() => p.store.deploy(bare), () => p.store.plan(bare)]
    ) {
      const err = await attempt().then(() => null, (e) => e);
      assert.ok(err instanceof ValidationError, String(err));
      const issues = (err.extra as {
        issues: {
          path: string;
          line: number;
          col: number;
          message: string;
        }[];
      }).issues;
      assert.equal(issues.length, 1);
      assert.equal(issues[0].path, "jobs[0].event.schedule");
      const line = bare.split("\n").findIndex((l) => l.includes("schedule:")) +
        1;
      assert.deepEqual([issues[0].line, issues[0].col], [line, 17]);
      assert.match(
        issues[0].message,
        /What schedule of event "greet" sends, \{"scheduledAt":"2026-01-01T00:00:00.000Z"\}, does not match schema "greet.schema.json"/,
      );
    }
    assert.deepEqual(await p.store.list("demo"), []);
    // greet.schema.json allows only "name": a payload at the top level
    // would not do either, but the item nests it.
    const withPayload = scheduled(
      yaml,
      '      schedule: {cron: "0 * * * *", payload: {name: Ada}}',
    );
    const bad = await p.store.deploy(withPayload).then(() => null, (e) => e);
    assert.ok(bad instanceof ValidationError);
    // A schema that accepts the item: deployed, and shown in a dry run.
    await p.repo.put(
      "demo",
      "greet.schema.json",
      new TextEncoder().encode(JSON.stringify({
        type: "object",
        properties: {
          scheduledAt: { type: "string", format: "date-time" },
          payload: { type: "object", required: ["name"] },
        },
      })),
    );
    const plan = await p.store.plan(withPayload);
    assert.deepEqual(plan.changes.find((c) => c.id === "greet"), {
      kind: "event",
      op: "added",
      id: "greet",
    });
    const head = await p.store.deploy(withPayload);
    assert.equal(head.version, 1);
    const cur = await p.store.current("demo", "greet");
    assert.deepEqual(cur.package.jobs[0].event.schedule, {
      cron: "0 * * * *",
      payload: { name: "Ada" },
    });
    const again = await p.store.plan(
      scheduled(
        yaml,
        '      schedule: {cron: "*/5 * * * *", timezone: Europe/Madrid, payload: {name: Ada}}',
      ),
    );
    assert.deepEqual(again.changes.find((c) => c.id === "greet")?.fields, [{
      field: "schedule",
      before: "0 * * * *",
      after: "*/5 * * * * (Europe/Madrid)",
    }]);
  } finally {
    await p.close();
  }
});
