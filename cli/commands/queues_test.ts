import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import {
  captureIo,
  type CaptureOptions,
  fakeFetch,
  json,
} from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

const noFetch = fakeFetch(() => {
  throw new Error("fetch must not be called");
});

Deno.test("queues: usage mistakes exit 2 without calling the platform", async () => {
  const cases: [string[], RegExp][] = [
    [["queues", "list"], /^error: missing required argument 'tenant'/],
    [["queues", "dead", "demo"], /^error: missing required argument 'queue'/],
    [["queues", "dead", "demo", "q", "--limit", "0"], /positive integer/],
    [["queues", "replay", "demo"], /^error: missing required argument 'queue'/],
  ];
  for (const [args, message] of cases) {
    const { code, out, err } = await jobico(args, { fetch: noFetch });
    assert.equal(code, 2, args.join(" "));
    assert.equal(out, "");
    assert.match(err, message);
  }
  const group = await jobico(["queues"], { fetch: noFetch });
  assert.equal(group.code, 2);
  assert.match(group.err, /Usage: jobico queues/);
  assert.equal(noFetch.requests.length, 0);
});

Deno.test("queues purge: refuses without --yes, with a hint, and exits 2", async () => {
  for (
    const [ids, what] of [
      [[], "every dead letter of queue q"],
      [["a"], "1 dead letter of queue q"],
      [["a", "b"], "2 dead letters of queue q"],
    ] as const
  ) {
    const r = await jobico(["queues", "purge", "demo", "q", ...ids], {
      fetch: noFetch,
    });
    assert.equal(r.code, 2);
    assert.equal(r.out, "");
    assert.equal(
      r.err,
      `error: Refusing to delete ${what} without --yes\n` +
        'hint: Check them with "jobico queues dead demo q", then run the command again with --yes\n',
    );
  }
  assert.equal(noFetch.requests.length, 0);
});

Deno.test("queues dead: the error column is cut to fit the terminal", async () => {
  const f = fakeFetch(() =>
    json({
      dead: [{
        id: "0000000000000000001",
        eventId: "0000000000000000001",
        event: "boom",
        package: "traps",
        version: 1,
        attempt: 4,
        failures: 4,
        error: "trap: " + "x".repeat(200),
        failedAt: "2025-01-02T03:04:05.000Z",
        executionId: "e1",
        data: {},
      }],
      cursor: null,
    })
  );
  const io = captureIo({ fetch: f });
  io.stdout.columns = () => 100;
  assert.equal(await run(["queues", "dead", "demo", "q"], io), 0);
  const lines = io.out().trimEnd().split("\n");
  assert.match(lines[0], /^ID\s+EVENT\s+FAILURES\s+FAILED-AT\s+ERROR$/);
  assert.equal([...lines[1]].length, 100);
  assert.match(
    lines[1],
    /^0000000000000000001 {2}boom {3}4 {9}\S+ \S+ {2}trap: x+…$/,
  );
});

// ---- Against the real platform, over real HTTP ----

const TRAPS = `
id: traps
tenant: t1
queues: [{id: q}, {id: idle}]
jobs:
  - event: {id: boom, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: trap}
runtimes:
  - {id: trap, moduleref: trap.wasm}
`;

Deno.test("platform: queues list, dead, replay and purge", async () => {
  // No retries: a trapping event goes to the dead letters at once.
  const h = await startHarness({ limits: { retries: 0 } });
  try {
    const cli = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);
    await h.upload("t1", "trap.wasm", await compileWat("trap"));
    await h.upload("t1", "any.json", JSON.stringify({ type: "object" }));
    await h.deploy(TRAPS);
    const ids = await h.send("t1", "boom", [{ n: 1 }, { n: 2 }, { n: 3 }]);
    const deadCount = async () =>
      JSON.parse((await cli("queues", "list", "t1", "--json")).out)
        .queues.find((q: { id: string }) => q.id === "q").dead;
    await until(async () => (await deadCount()) === 3);

    const list = await cli("queues", "list", "t1");
    assert.equal(list.code, 0, list.err);
    assert.deepEqual(
      list.out.trimEnd().split("\n").map((l) => l.split(/\s+/)),
      [
        ["ID", "DEPTH", "IN-FLIGHT", "DELAYED", "DEAD", "PROCESSED", "OLDEST"],
        ["idle", "0", "0", "0", "0", "0", "-"],
        ["q", "0", "0", "0", "3", "0", "-"],
      ],
    );
    const listJson = JSON.parse(
      (await cli("queues", "ls", "t1", "--json")).out,
    );
    assert.deepEqual(Object.keys(listJson.queues[1]), [
      "id",
      "depth",
      "inFlight",
      "delayed",
      "dead",
      "processed",
      "oldestAgeMs",
    ]);

    const dead = await cli("queues", "dead", "t1", "q");
    assert.equal(dead.code, 0, dead.err);
    const rows = dead.out.trimEnd().split("\n");
    assert.match(rows[0], /^ID\s+EVENT\s+FAILURES\s+FAILED-AT\s+ERROR$/);
    assert.equal(rows.length, 4);
    ids.forEach((id, i) =>
      assert.match(
        rows[i + 1],
        new RegExp(`^${id}  boom\\s+1\\s+\\S+ \\S+\\s+trap: `),
      )
    );
    const page = await cli(
      "queues",
      "dead",
      "t1",
      "q",
      "--limit",
      "2",
      "--json",
    );
    const body = JSON.parse(page.out);
    assert.deepEqual(
      body.dead.map((d: { id: string }) => d.id),
      ids.slice(0, 2),
    );
    assert.equal(body.dead[0].event, "boom");
    assert.deepEqual(body.dead[0].data, { n: 1 });
    assert.equal(typeof body.cursor, "string");
    const more = await cli("queues", "dead", "t1", "q", "--limit", "2");
    assert.equal(
      more.out.trimEnd().split("\n").at(-1),
      `More: jobico queues dead t1 q --cursor ${body.cursor}`,
    );
    const next = await cli(
      "queues",
      "dead",
      "t1",
      "q",
      "--cursor",
      body.cursor,
      "--json",
    );
    assert.deepEqual(
      JSON.parse(next.out).dead.map((d: { id: string }) => d.id),
      [ids[2]],
    );

    // Replay one: it runs again, fails again, and is a dead letter once more.
    const replay = await cli("queues", "replay", "t1", "q", ids[0], "nope");
    assert.equal(replay.code, 0, replay.err);
    assert.equal(
      replay.out,
      "Replayed 1 dead letter of queue q\nNot dead letters of queue q: nope\n",
    );
    await until(async () => {
      const d =
        JSON.parse((await cli("queues", "dead", "t1", "q", "--json")).out).dead;
      return d.length === 3 && d[0].attempt === 2;
    });

    const refused = await cli("queues", "purge", "t1", "q", ids[0]);
    assert.equal(refused.code, 2);
    const one = await cli("queues", "purge", "t1", "q", ids[0], "--yes");
    assert.equal(one.code, 0, one.err);
    assert.equal(one.out, "Purged 1 dead letter of queue q\n");
    const rest = await cli("queues", "purge", "t1", "q", "-y", "--json");
    assert.deepEqual(JSON.parse(rest.out), { purged: 2 });
    assert.equal(await deadCount(), 0);
    assert.equal(
      (await cli("queues", "dead", "t1", "q")).out,
      "No dead letters in queue q of t1\n",
    );

    const all = await cli("queues", "replay", "t1", "q", "--json");
    assert.deepEqual(JSON.parse(all.out), {
      replayed: 0,
      ids: [],
      notFound: [],
    });

    const unknown = await cli("queues", "dead", "t1", "nope");
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.err,
      'error: Not found: Tenant "t1" has no queue "nope" (HTTP 404)\n' +
        "hint: See what exists: jobico queues list t1\n",
    );
    const nobody = await cli("queues", "list", "nobody");
    assert.equal(nobody.code, 1);
    assert.match(nobody.err, /Unknown tenant "nobody" \(HTTP 404\)/);
  } finally {
    await h.close();
  }
});

Deno.test("platform: queues replay goes in batches with a progress bar on a terminal; queues stats shows one queue", async () => {
  const h = await startHarness({ limits: { retries: 0 } });
  try {
    const cli = (args: string[], tty = false) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args], { tty });
    await h.upload("t1", "trap.wasm", await compileWat("trap"));
    await h.upload("t1", "any.json", JSON.stringify({ type: "object" }));
    await h.deploy(TRAPS);
    const ids = await h.send(
      "t1",
      "boom",
      [1, 2, 3, 4, 5, 6, 7].map((n) => ({ n })),
    );
    const stats = async () =>
      JSON.parse((await cli(["queues", "stats", "t1", "q", "--json"])).out);
    await until(async () => (await stats()).dead === 7);
    assert.equal((await stats()).id, "q");

    // All of them, two per request: each is replayed once, even though it
    // fails again (and is a dead letter again) while the replay goes on.
    let r = await cli(
      ["queues", "replay", "t1", "q", "--batch", "2", "--json"],
      true,
    );
    assert.equal(r.code, 0, r.err);
    const all = JSON.parse(r.out);
    assert.equal(all.replayed, 7);
    assert.deepEqual([...all.ids].sort(), [...ids].sort());
    assert.deepEqual(all.notFound, []);
    // deno-lint-ignore no-control-regex
    assert.match(r.err, /\r\x1b\[2KReplaying {2}\[[█░]{24}\] {2}\d\/7/);
    assert.ok(r.err.endsWith("\r\x1b[2K"));
    await until(async () => (await stats()).dead === 7);

    // Named ones, in batches too; what is not a dead letter is said so.
    r = await cli([
      "queues",
      "replay",
      "t1",
      "q",
      ids[0],
      ids[1],
      ids[2],
      "nope",
      "--batch",
      "2",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Replayed 3 dead letters of queue q\nNot dead letters of queue q: nope\n",
    );
    assert.equal(r.err, "", "no bar when stderr is not a terminal");
    await until(async () => (await stats()).dead === 7);
  } finally {
    await h.close();
  }
});

Deno.test("platform: a full queue answers 429 to send; the CLI says when to retry", async () => {
  const h = await startHarness({
    maxQueueDepth: 2,
    components: ["ctl", "repo", "listener"],
  });
  try {
    const cli = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);
    await h.upload("t1", "trap.wasm", await compileWat("trap"));
    await h.upload("t1", "any.json", JSON.stringify({ type: "object" }));
    await h.deploy(TRAPS);
    assert.equal((await cli("send", "t1", "boom", "{}", "{}")).code, 0);
    const full = await cli("send", "t1", "boom", "{}");
    assert.equal(full.code, 1);
    assert.equal(
      full.err,
      'error: Too many requests: Queue "q" of tenant "t1" holds 2 events; ' +
        "the limit is 2: try again in 15 s (HTTP 429)\n" +
        "hint: The executor drains the queue meanwhile; see how full it is: jobico queues list t1\n",
    );
    const res = await h.api("/events/t1/boom", {
      method: "POST",
      body: '{"data": [{}]}',
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "15");
    await res.body?.cancel();
    const queues =
      JSON.parse((await cli("queues", "list", "t1", "--json")).out).queues;
    assert.equal(queues.find((q: { id: string }) => q.id === "q").depth, 2);
  } finally {
    await h.close();
  }
});

async function until(probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("Timed out");
}
