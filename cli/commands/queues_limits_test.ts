import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { compileWat } from "../../tests/jobicolets/compile_wat.ts";
import { captureIo, type CaptureOptions } from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

Deno.test("queues limits shows a queue's keys in flight and open windows over a real platform", async () => {
  const h = await startHarness({ tenantConcurrency: 4 });
  try {
    await h.upload("acme", "nap.wasm", await compileWat("nap"));
    await h.upload("acme", "any.json", "{}");
    await h.deploy(`id: lim
tenant: acme
queues: [{id: q}]
jobs:
  - event:
      id: charge
      schema: {id: s, schemaref: any.json}
      supplierqueue: q
      runtime: nap
      concurrency: {key: $.c, limit: 1}
      rateLimit: {limit: 9, period: 30d, key: $.c}
runtimes:
  - id: nap
    moduleref: nap.wasm
`);
    const env = { JOBICO_URL: h.url, JOBICO_TOKEN: h.adminToken };
    await h.send("acme", "charge", [{ c: "ada", ms: 1500 }]);
    // Wait (generously) until the item holds its slot.
    let shown = "";
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = await jobico(["queues", "limits", "acme", "q"], { env });
      assert.equal(r.code, 0, r.err);
      shown = r.out;
      if (/^ {4}ada {2}1 of 1$/m.test(shown)) break;
      await new Promise((res) => setTimeout(res, 25));
    }
    assert.match(shown, /^Tenant: no limit of executions at once$/m);
    assert.match(shown, /^Event charge \(lim v1\):$/m);
    assert.match(shown, /^ {2}concurrency 1 per \$\.c: 1 keys running$/m);
    assert.match(shown, /^ {4}ada {2}1 of 1$/m);
    assert.match(
      shown,
      /^ {2}rate limit 9 per 30d per \$\.c \(throttle\): 1 windows open$/m,
    );
    assert.match(shown, /^ {4}ada {2}1 of 9 until /m);
    // A key is what a sender wrote: it cannot drive the terminal.
    await h.send("acme", "charge", [{ c: "ev\x1b[2J\x1b]0;t\x07il", ms: 1 }]);
    const hostile = await jobico(["queues", "limits", "acme", "q"], { env });
    assert.equal(hostile.code, 0, hostile.err);
    assert.ok(!hostile.out.includes("\x1b"), hostile.out);
    assert.match(
      hostile.out,
      /^ {4}ev\\x1b\[2J\\x1b\]0;t\\x07il {2}1 of 9 until /m,
    );
    const json = await jobico(["queues", "limits", "acme", "q", "--json"], {
      env,
    });
    assert.equal(json.code, 0, json.err);
    assert.equal(JSON.parse(json.out).events[0].rateLimit.windows[0].used, 1);
    // Another tenant's token: refused, nothing shown.
    const other = await h.api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "evil" }),
    });
    const { token } = await other.json();
    const denied = await jobico(["queues", "limits", "acme", "q"], {
      env: { JOBICO_URL: h.url, JOBICO_TOKEN: token },
    });
    assert.notEqual(denied.code, 0);
    assert.doesNotMatch(denied.out, /ada/);
    await h.waitFor("acme", (es) => es.length === 1);
    // The tenant's own limit, set by the admin, shows with its slots.
    const set = await jobico(
      ["tenant", "set", "acme", "--max-concurrency", "2"],
      { env },
    );
    assert.equal(set.code, 0, set.err);
    assert.match(
      set.out,
      /\nquotas\s+1,000 files and 1\.0 GiB, 2 executions at once\n/,
    );
    const limited = await jobico(["queues", "limits", "acme", "q"], { env });
    assert.match(limited.out, /^Tenant: 0 of 2 running$/m);
    const bad = await jobico(
      ["tenant", "set", "acme", "--max-concurrency", "-1"],
      { env },
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /max-concurrency|maxConcurrency/);
  } finally {
    await h.close();
  }
});
