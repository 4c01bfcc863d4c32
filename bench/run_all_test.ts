/**
 * A smoke test of the benchmark code at a trivial size (no timings are
 * asserted): the executor scenario runs, the report renders, the floors
 * compare, the wrk script and the profile summary are well formed.
 */
import assert from "node:assert/strict";
import { executorOverheadBench } from "./executor_overhead.ts";
import { belowFloors } from "./quick.ts";
import { type Results, resultsMarkdown, targetsOf } from "./run_all.ts";
import { runLoad, wrkScript } from "./_load.ts";
import { summarizeProfile } from "./_profile.ts";
import { machine } from "./_machine.ts";
import { verifyWebhook } from "../components/listener/webhook_signature.ts";

Deno.test("bench: the executor scenario runs at a trivial size and the report renders", async () => {
  const executor = await executorOverheadBench({
    calls: 20,
    repeats: 1,
    skipExtism: true,
  });
  assert.ok(executor.us.platform > 0 && executor.us.rawFresh > 0);
  const r: Results = {
    machine: machine(),
    generator: "wrk",
    settings: { seconds: 1, repeats: 1, connections: 1 },
    executor,
    targets: [],
  };
  r.targets = targetsOf(r);
  assert.equal(r.targets.length, 1);
  const md = resultsMarkdown(r);
  assert.match(md, /Executor overhead/);
  assert.match(md, /deno task bench/);
});

Deno.test("bench: floors compare ratios, a missing ratio fails", () => {
  assert.deepEqual(belowFloors({ a: 1, b: 0.4 }, { a: 0.5 }), []);
  assert.equal(belowFloors({ a: 0.4 }, { a: 0.5 }).length, 1);
  assert.equal(belowFloors({}, { a: 0.5 }).length, 1);
});

Deno.test("bench: the wrk script posts the body and prints one JSON line", () => {
  const lua = wrkScript({
    url: "http://x",
    body: '{"data":[1]}',
    headers: { authorization: "Bearer t" },
    connections: 1,
    seconds: 1,
  });
  assert.match(lua, /wrk.method = "POST"/);
  assert.match(lua, /wrk.body = \[==\[\{"data":\[1\]\}\]==\]/);
  assert.match(lua, /function done\(summary, latency, requests\)/);
});

/** Runs `fn` with the URL of a server on a free port that answers with `handler`. */
async function withServer(
  handler: (req: Request) => Promise<Response>,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    handler,
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/`);
  } finally {
    ac.abort();
    await server.finished;
  }
}

Deno.test("bench: a load's unique header has a value of its own on every request", async () => {
  const seen = new Set<string>();
  let requests = 0;
  await withServer(async (req) => {
    await req.arrayBuffer();
    requests++;
    seen.add(req.headers.get("idempotency-key") ?? "");
    return new Response("{}");
  }, async (url) => {
    const spec = {
      url,
      body: "{}",
      connections: 4,
      seconds: 1,
      uniqueHeader: "idempotency-key",
    };
    const first = await runLoad(spec);
    const second = await runLoad(spec);
    assert.ok(first.requests > 10 && second.requests > 10);
    // The server also saw the requests under way when a load ended.
    assert.ok(requests >= first.requests + second.requests);
    assert.ok(!seen.has(""));
    assert.equal(seen.size, requests, "a value came twice");
  });
});

Deno.test("bench: a signed load signs every request as webhook senders do, each body its own", async () => {
  const bodies = new Set<string>();
  let refused = 0;
  await withServer(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    const check = await verifyWebhook({
      header: req.headers.get("jobico-signature"),
      body,
      secrets: ["whsec_test"],
      nowMs: Date.now(),
    });
    if (!check.ok) refused++;
    bodies.add(new TextDecoder().decode(body));
    return new Response("{}", { status: check.ok ? 200 : 401 });
  }, async (url) => {
    const r = await runLoad({
      url,
      body: '{"data":[{"name":"{unique}"}]}',
      connections: 2,
      seconds: 1,
      signWith: "whsec_test",
    });
    assert.equal(r.generator, "deno");
    assert.ok(r.requests > 10 && r.non2xx === 0 && refused === 0);
    assert.ok(bodies.size >= r.requests, "a body came twice");
    assert.ok(![...bodies].some((b) => b.includes("{unique}")));
  });
});

Deno.test("bench: the profile summary sums self time per call frame", () => {
  const frame = (functionName: string) => ({
    functionName,
    url: "file:///work/main/goico/x.ts",
    lineNumber: 0,
  });
  const s = summarizeProfile({
    nodes: [
      { id: 1, callFrame: frame("(idle)") },
      { id: 2, callFrame: frame("hot") },
    ],
    samples: [1, 2, 2, 2],
    timeDeltas: [1000, 1000, 1000, 1000],
    startTime: 0,
    endTime: 4000,
  });
  assert.equal(s.totalMs, 4);
  assert.equal(s.idle, 0.25);
  assert.equal(s.top[0].frame, "hot (goico/x.ts:1)");
  assert.equal(s.top[0].share, 0.75);
});

Deno.test("bench: the end-to-end table shows the asked rate and the executor's drain", () => {
  const r: Results = {
    machine: machine(),
    generator: "wrk",
    settings: { seconds: 1, repeats: 1, connections: 1 },
    endToEnd: {
      sustained: {
        recordedPerSec: 7000,
        acceptedPerSec: 12000,
        backlogAtEnd: 1,
      },
      latency: {
        asked: 3500,
        rate: 2100,
        accepted: 10,
        recorded: 10,
        missing: 0,
        p50Ms: 1,
        p90Ms: 2,
        p99Ms: 3,
        maxMs: 4,
      },
      drain: {
        items: 30000,
        perSec: 10000,
        cpuUsPerEvent: { main: 60, kv: 25, sandbox: 10, other: 12, total: 107 },
      },
    },
    targets: [],
  };
  r.targets = targetsOf(r);
  const md = resultsMarkdown(r);
  assert.match(md, /rate asked \(half the sustained\), events\/s \| 3,500 \|/);
  assert.match(md, /draining 30,000 queued events, events\/s \| 10,000 \|/);
  assert.match(md, /\| 60 \/ 25 \/ 10 \/ 12 \|/);
});
